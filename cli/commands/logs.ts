import { exactlyOnePositional, parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { connect } from '../connect';
import { EXIT } from '../errors';
import { parseCount } from '../units';

const OPTIONS = {
  attempt: { type: 'string' },
  follow: { type: 'boolean', short: 'f', default: false },
} as const;

/** How long `--follow` waits before asking again when no new lines have arrived. */
export const LOG_POLL_INTERVAL_MS = 1000;

export const logsCommand: Command = {
  name: 'logs',
  summary: "print a job's output",
  help: `Usage: drivetrain logs <job-id> [--attempt <n>] [--follow]

Prints a job's output (stdout and stderr of its command).

  --attempt <n>    an earlier attempt (a preempted or retried run); default: the latest
  -f, --follow     keep printing new lines until the attempt ends
                   (with --json, prints each page of the API's response as one JSON line)`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('logs', argv, OPTIONS);
    const id = exactlyOnePositional('logs', positionals, 'job-id');
    const attempt = parseCount('attempt', values.attempt, 1);
    const api = connect(values, io);

    let offset: number | undefined;
    for (;;) {
      const { body: page } = await api.getLogs(id, { attempt, offset });
      if (values.json) {
        if (values.follow) io.stdout(JSON.stringify(page));
        else printJson(io, page);
      } else {
        printLines(io, page.lines);
      }
      if (!values.follow || page.complete) return EXIT.ok;
      if (page.lines.length === 0) await io.sleep(LOG_POLL_INTERVAL_MS);
      offset = page.nextOffset;
    }
  },
};
