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

/** Where an attempt's backend puts the job's state between attempts. */
export interface AttemptLocations {
  /**
   * The job's checkpoint location from the `CheckpointStore` (jobs/ports.ts): a directory
   * locally, an `s3://` prefix of the artifacts bucket on AWS. Every attempt of the job sees
   * the same one, so an attempt after a preemption resumes from the last checkpoint.
   */
  readonly checkpointDir?: string;
}

/** The spec's variables plus the platform's own, which win: a job cannot fake its identity. */
export function attemptEnvironment(job: JobRecord, locations: AttemptLocations = {}): Record<string, string> {
  return {
    ...job.spec.env,
    DRIVETRAIN_JOB_ID: job.id,
    DRIVETRAIN_ATTEMPT: String(job.attempt),
    ...(locations.checkpointDir !== undefined && { DRIVETRAIN_CHECKPOINT_DIR: locations.checkpointDir }),
  };
}

/** AWS resources take at most 50 tags. */
const MAX_TAGS = 50;

/**
 * The platform's tags (for cost allocation and lookups) plus as many of the spec's as fit
 * in AWS's limit: the spec allows 50 of its own, and a rejected submit would fail every retry.
 */
export function attemptTags(job: JobRecord): Record<string, string> {
  const platform = {
    'drivetrain:job-id': job.id,
    'drivetrain:team': job.team,
    'drivetrain:attempt': String(job.attempt),
  };
  const own = Object.entries(job.spec.tags)
    .filter(([key]) => !Object.hasOwn(platform, key))
    .slice(0, MAX_TAGS - Object.keys(platform).length);
  return { ...Object.fromEntries(own), ...platform };
}

/** The command line as an argv: the spec's command followed by its args. */
export function argv(spec: JobSpec): string[] {
  return [...spec.command, ...spec.args];
}
