import { CPU_POOL_TYPE } from '../jobs/cluster';
import type { JobRecord } from '../jobs/job';
import type { JobSpec } from '../jobs/spec';

/**
 * What every backend derives the same way from one attempt of a job, so a training script
 * sees the same variables and the same tags whether it runs on Batch, SageMaker, EKS or locally.
 */

/** The fleet a job runs on: its GPU type, or `cpu` for jobs without GPUs. */
export function fleetOf(spec: JobSpec): string {
  const { gpus, gpuType } = spec.resources;
  return gpus > 0 && gpuType !== undefined ? gpuType : CPU_POOL_TYPE;
}

/** The spec's variables plus the platform's own, which win: a job cannot fake its identity. */
export function attemptEnvironment(job: JobRecord): Record<string, string> {
  return {
    ...job.spec.env,
    DRIVETRAIN_JOB_ID: job.id,
    DRIVETRAIN_ATTEMPT: String(job.attempt),
  };
}

/** The spec's tags plus the platform's own (which win), for cost allocation and lookups. */
export function attemptTags(job: JobRecord): Record<string, string> {
  return {
    ...job.spec.tags,
    'drivetrain:job-id': job.id,
    'drivetrain:team': job.team,
    'drivetrain:attempt': String(job.attempt),
  };
}

/** The command line as an argv: the spec's command followed by its args. */
export function argv(spec: JobSpec): string[] {
  return [...spec.command, ...spec.args];
}
