import type { FieldError } from '../jobs/spec';
import { ApiError, CliError, EXIT, SpecValidationError } from './errors';
import type { CliIo } from './io';

/**
 * Prints an error to stderr and returns the exit code. Local validation failures print
 * exactly like the API's 400s (the same `{error, message, fields}` with `--json`), so
 * scripts and people handle both the same way.
 */
export function reportError(error: unknown, io: CliIo, json: boolean): number {
  if (error instanceof SpecValidationError) {
    const body = { error: 'ValidationError', message: error.message, fields: error.fields };
    printError(io, json, body, error.message, error.fields);
    return error.exitCode;
  }
  if (error instanceof ApiError) {
    printError(io, json, error.body, error.message, error.body.fields ?? []);
    return error.exitCode;
  }
  if (error instanceof CliError) {
    printError(io, json, { error: error.name, message: error.message }, error.message, []);
    return error.exitCode;
  }
  // A bug, not a user mistake: still one line unless asked for the stack.
  const detail = io.env.DRIVETRAIN_DEBUG && error instanceof Error ? error.stack : String(error);
  io.stderr(`drivetrain: unexpected error: ${detail}`);
  if (!io.env.DRIVETRAIN_DEBUG) io.stderr('Set DRIVETRAIN_DEBUG=1 to see the stack trace.');
  return EXIT.api;
}

function printError(
  io: CliIo,
  json: boolean,
  body: object,
  message: string,
  fields: readonly FieldError[],
): void {
  if (json) {
    io.stderr(JSON.stringify(body));
    return;
  }
  io.stderr(`error: ${message}`);
  for (const { field, reason } of fields) {
    const line = `${field}: ${reason}`;
    // The API's validation message already lists its fields this way; say each only once.
    if (!message.includes(line)) io.stderr(`  ${line}`);
  }
}
