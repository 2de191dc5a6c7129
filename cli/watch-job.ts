import { isTerminal } from '../jobs/states';
import type { DrivetrainApi } from './api-client';
import type { JobView } from './api-types';
import type { CliIo } from './io';

export const POLL_INTERVAL_MS = 2000;

/**
 * Polls a job until it ends. In human mode, prints a line per state change and, while the job
 * waits, per change of its why-pending reason: the question users most need answered.
 */
export async function watchJob(
  api: DrivetrainApi,
  first: JobView,
  io: CliIo,
  options: { readonly showProgress: boolean },
): Promise<JobView> {
  let job = first;
  let shown = '';
  for (;;) {
    const progress = progressLine(job);
    if (options.showProgress && progress !== shown) {
      io.stdout(`${io.now().toISOString().slice(11, 19)}Z  ${progress}`);
      shown = progress;
    }
    if (isTerminal(job.state)) return job;
    await io.sleep(POLL_INTERVAL_MS);
    job = (await api.getJob(job.id)).body.job;
  }
}

function progressLine(job: JobView): string {
  const detail = progressDetail(job);
  return detail ? `${job.state.padEnd(10)}  ${detail}` : job.state;
}

function progressDetail(job: JobView): string {
  switch (job.state) {
    case 'PENDING':
      return job.pendingReason ? `${job.pendingReason.message} [${job.pendingReason.code}]` : '';
    case 'DISPATCHED':
    case 'RUNNING':
      return [job.pool && `on ${job.pool}`, job.attempt > 1 && `attempt ${job.attempt}`]
        .filter(Boolean)
        .join(', ');
    case 'SUCCEEDED':
    case 'FAILED':
      return [job.exitCode !== undefined && `exit code ${job.exitCode}`, job.stateReason]
        .filter(Boolean)
        .join(', ');
    case 'CANCELLED':
    case 'PREEMPTED':
      return job.stateReason ?? '';
  }
}
