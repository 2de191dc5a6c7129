import type { JobRecord } from '../jobs/job';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';

/** A job as the API shows it: the record without storage internals, with derived fields spelled out. */
export function jobView(job: JobRecord) {
  const { spec } = job;
  return {
    id: job.id,
    team: job.team,
    name: spec.name,
    state: job.state,
    priorityClass: spec.priorityClass,
    preemptible: spec.preemptible ?? PRIORITY_CLASSES[spec.priorityClass].preemptible,
    resources: spec.resources,
    backend: job.dispatch?.backend ?? spec.backend,
    attempt: job.attempt,
    submittedAt: job.submittedAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    endedAt: job.endedAt,
    pool: job.dispatch?.pool,
    pendingReason: job.state === 'PENDING' ? job.pendingReason : undefined,
    stateReason: job.stateReason,
    exitCode: job.exitCode,
    preemptions: job.preemptions,
    cancelRequested: job.cancelRequested,
    spec,
  };
}

export type JobView = ReturnType<typeof jobView>;
