import type { CliIo } from './io';

/** One `drivetrain <name>` subcommand. */
export interface Command {
  readonly name: string;
  /** One line for the command list of `drivetrain --help`. */
  readonly summary: string;
  /** The full text of `drivetrain <name> --help`, global options excluded. */
  readonly help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** Prints a value as the scripts-facing `--json` output. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2));
}

/** Prints rendered human output, one line at a time. */
export function printLines(io: CliIo, lines: readonly string[]): void {
  for (const line of lines) io.stdout(line);
}
