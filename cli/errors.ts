import type { FieldError } from '../jobs/spec';

/** Exit codes: scripts tell "you called me wrong" from "the platform said no" from "the job failed". */
export const EXIT = {
  ok: 0,
  /** API rejected the call, network failure, missing credentials. */
  api: 1,
  /** Bad flags, unreadable file, or a spec that fails local validation. */
  usage: 2,
  /** `submit --wait` saw the job end in a state other than SUCCEEDED. */
  jobDidNotSucceed: 3,
} as const;

/**
 * An error the CLI expects and explains in one message: it is printed without a stack trace
 * and ends the process with `exitCode`.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** A job spec that fails the zod schema before anything is sent; shaped like the API's 400. */
export class SpecValidationError extends CliError {
  constructor(readonly fields: readonly FieldError[]) {
    super('invalid job spec', EXIT.usage);
  }
}

/** The body of every 4xx/5xx the job API returns. */
export interface ApiErrorBody {
  readonly error: string;
  readonly message: string;
  readonly fields?: readonly FieldError[];
}

export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(`${body.message} (HTTP ${status} ${body.error})`, EXIT.api);
  }
}

/** The API could not be reached or did not answer with JSON. */
export class TransportError extends CliError {
  constructor(message: string) {
    super(message, EXIT.api);
  }
}
