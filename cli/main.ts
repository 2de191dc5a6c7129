import { GLOBAL_HELP } from './args';
import type { Command } from './command';
import { cancelCommand } from './commands/cancel';
import { dataCommand } from './commands/data';
import { featuresCommand } from './commands/features';
import { listCommand } from './commands/list';
import { logsCommand } from './commands/logs';
import { queuesCommand } from './commands/queues';
import { statusCommand } from './commands/status';
import { submitCommand } from './commands/submit';
import { whoamiCommand } from './commands/whoami';
import { EXIT } from './errors';
import type { CliIo } from './io';
import { reportError } from './report-error';

const COMMANDS: readonly Command[] = [
  submitCommand,
  statusCommand,
  listCommand,
  logsCommand,
  cancelCommand,
  queuesCommand,
  dataCommand,
  featuresCommand,
  whoamiCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `Usage: drivetrain <command> [options]

Submit and follow GPU jobs on Drivetrain, locally or on a deployed API.

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

${GLOBAL_HELP}

Run 'drivetrain <command> --help' for a command's options.`;
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = COMMANDS.find((command) => command.name === rest[0]);
    io.stdout(topic ? commandHelp(topic) : usage());
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    io.stderr(`drivetrain: unknown command '${name}'. Run 'drivetrain --help' for the list.`);
    return EXIT.usage;
  }
  if (hasFlag(rest, '--help') || hasFlag(rest, '-h')) {
    io.stdout(commandHelp(command));
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(error, io, hasFlag(rest, '--json'));
  }
}

function commandHelp(command: Command): string {
  return `${command.help}\n\n${GLOBAL_HELP}`;
}

/** Looks only before `--`: what follows is the job's own command line. */
function hasFlag(argv: readonly string[], flag: string): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes(flag);
}
