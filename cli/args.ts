import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Accepted by every command, before or after its own flags. */
export const GLOBAL_OPTIONS = {
  api: { type: 'string' },
  team: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export const GLOBAL_HELP = `Global options:
  --api <url>      job API base URL (env DRIVETRAIN_API, default http://127.0.0.1:8787);
                   an https URL is a deployed API: requests are SigV4-signed with your AWS credentials
  --team <team>    your team in local mode (env DRIVETRAIN_TEAM); ignored by a deployed API,
                   which takes the team from your IAM identity
  --json           print the API's JSON instead of tables
  -h, --help       show help`;

export function parseCommandArgs<T extends Options>(command: string, argv: readonly string[], options: T) {
  try {
    return parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      `${error instanceof Error ? error.message : String(error)}\nSee 'drivetrain ${command} --help'.`,
    );
  }
}

/** Splits `submit ... -- python train.py --lr 3e-4` into CLI flags and the job's command. */
export function splitAtDoubleDash(argv: readonly string[]): [own: string[], rest: string[]] {
  const at = argv.indexOf('--');
  return at < 0 ? [[...argv], []] : [argv.slice(0, at), argv.slice(at + 1)];
}

export function exactlyOnePositional(command: string, positionals: readonly string[], what: string): string {
  const [only, ...extra] = positionals;
  if (only === undefined || extra.length > 0) {
    throw new UsageError(`usage: drivetrain ${command} <${what}>\nSee 'drivetrain ${command} --help'.`);
  }
  return only;
}
