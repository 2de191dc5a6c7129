import type { JobView } from '../api-types';
import { exactlyOnePositional, parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { connect } from '../connect';
import { EXIT } from '../errors';
import { formatAge, formatGpus, formatMemory, formatTime } from '../format';
import { renderFields } from '../table';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show one job: state, why it waits, where it runs',
  help: `Usage: drivetrain status <job-id>

Shows a job's state and, while it is PENDING, why it waits.`,

  async run(argv, io) {
    const { values, positionals } = parseCommandArgs('status', argv, {});
    const id = exactlyOnePositional('status', positionals, 'job-id');
    const { body } = await connect(values, io).getJob(id);
    if (values.json) printJson(io, body);
    else printLines(io, renderJob(body.job, io.now()));
    return EXIT.ok;
  },
};

export function renderJob(job: JobView, now: Date): string[] {
  const { resources } = job;
  const nodes = resources.nodes ?? 1;
  return renderFields([
    ['job', job.id],
    ['name', job.name],
    ['team', job.team],
    ['state', job.state],
    [
      'waiting',
      job.state === 'PENDING' && job.pendingReason
        ? `${job.pendingReason.message} [${job.pendingReason.code}]`
        : undefined,
    ],
    ['reason', job.stateReason],
    ['exit code', job.exitCode?.toString()],
    ['class', `${job.priorityClass}${job.preemptible ? ' (preemptible)' : ''}`],
    [
      'resources',
      `${formatGpus(resources)}, ${resources.cpus} vCPU, ${formatMemory(resources.memoryMiB)}${nodes > 1 ? ' per node' : ''}`,
    ],
    ['backend', job.pool ? `${job.backend} on ${job.pool}` : job.backend],
    [
      'attempt',
      job.attempt > 0
        ? `${job.attempt}${job.preemptions > 0 ? ` (preempted ${job.preemptions}×)` : ''}`
        : undefined,
    ],
    ['submitted', `${formatTime(job.submittedAt)} (${formatAge(job.submittedAt, now)} ago)`],
    ['started', formatTime(job.startedAt)],
    ['ended', formatTime(job.endedAt)],
  ]);
}
