import { JOB_STATES, type JobState } from '../../jobs/states';
import type { JobPage, JobView } from '../api-types';
import { parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { connect } from '../connect';
import { EXIT, UsageError } from '../errors';
import { formatAge, formatGpus, jobNote } from '../format';
import { renderTable } from '../table';
import { parseCount } from '../units';

const OPTIONS = {
  state: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean', default: false },
  'next-token': { type: 'string' },
} as const;

export const listCommand: Command = {
  name: 'list',
  summary: "list your team's jobs, newest first",
  help: `Usage: drivetrain list [--state <state>] [--limit <n>] [--all | --next-token <token>]

Lists your team's jobs, newest first, one page at a time.

  --state <state>        only jobs in this state: ${JOB_STATES.join(', ')}
  --limit <n>            page size
  --all                  follow every page to the end
  --next-token <token>   start at the page a previous list pointed to`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('list', argv, OPTIONS);
    if (positionals.length > 0) throw new UsageError(`list takes no arguments, got ${positionals.join(' ')}`);
    const api = connect(values, io);
    const query = { state: parseState(values.state), limit: parseCount('limit', values.limit, 1) };

    let page = (await api.listJobs({ ...query, nextToken: values['next-token'] })).body;
    const jobs = [...page.jobs];
    while (values.all && page.nextToken) {
      page = (await api.listJobs({ ...query, nextToken: page.nextToken })).body;
      jobs.push(...page.jobs);
    }
    // With --all the pages are merged into one document, which has no next page.
    const result: JobPage = values.all ? { jobs } : page;

    if (values.json) {
      printJson(io, result);
      return EXIT.ok;
    }
    printLines(io, renderJobTable(result.jobs, io.now()));
    if (result.nextToken) io.stderr(`more jobs: drivetrain list --all, or --next-token ${result.nextToken}`);
    return EXIT.ok;
  },
};

function parseState(raw: string | undefined): JobState | undefined {
  if (raw === undefined) return undefined;
  const state = raw.toUpperCase();
  if (!(JOB_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`--state: expected one of ${JOB_STATES.join(', ')}, got '${raw}'`);
  }
  return state as JobState;
}

function renderJobTable(jobs: readonly JobView[], now: Date): string[] {
  if (jobs.length === 0) return ['no jobs'];
  return renderTable(
    ['ID', 'NAME', 'STATE', 'CLASS', 'GPUS', 'AGE', 'WHY'],
    jobs.map((job) => [
      job.id,
      job.name,
      job.state,
      job.priorityClass,
      formatGpus(job.resources),
      formatAge(job.submittedAt, now),
      jobNote(job),
    ]),
  );
}
