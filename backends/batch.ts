import {
  type BatchClient,
  type ContainerOverrides,
  type JobSummary,
  ListJobsCommand,
  SubmitJobCommand,
  type SubmitJobRequest,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { queueName } from '../config/queues';
import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, ComputeBackend } from '../jobs/ports';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { argv, attemptEnvironment, attemptTags, fleetOf } from './attempt';
import { ImageJobDefinitions } from './batch-job-definitions';

export interface BatchBackendOptions {
  /** Environment name (`dev`, `staging`, `prod`): prefixes the queues and job definitions. */
  readonly env: string;
  /**
   * Where per-image job definitions come from.
   * @default ImageJobDefinitions over the same client
   */
  readonly jobDefinitions?: Pick<ImageJobDefinitions, 'forImage'>;
}

/** How Batch begins the status reason of an attempt whose instance went away (spot reclaim, host failure). */
const HOST_FAILURE = 'Host EC2';
/** Batch accepts 1 to 10 attempts per job. */
const MAX_BATCH_ATTEMPTS = 10;

/**
 * AWS Batch: one SubmitJob per attempt, into the queue of the pool the scheduler placed the
 * job in (one compute environment behind it, so the job runs exactly there), with the team
 * as share identifier and the class as scheduling priority. Batch has no client token, so submit
 * looks the deterministic name up first: a dispatcher that crashed after submitting finds
 * its job instead of starting a second one.
 */
export class BatchBackend implements ComputeBackend {
  readonly kind = 'batch' as const;
  private readonly jobDefinitions: Pick<ImageJobDefinitions, 'forImage'>;

  constructor(
    private readonly client: BatchClient,
    private readonly options: BatchBackendOptions,
  ) {
    this.jobDefinitions = options.jobDefinitions ?? new ImageJobDefinitions(client);
  }

  async submit({ job, dispatch }: BackendSubmission): Promise<{ backendJobId: string }> {
    const existing = await this.findOn(batchQueue(this.options.env, dispatch), dispatch.name);
    if (existing) return existing;
    const base = baseJobDefinition(this.options.env, job);
    const jobDefinition = await this.jobDefinitions.forImage(base, job.spec.image);
    const { jobId } = await this.client.send(
      new SubmitJobCommand(submitJobRequest(this.options.env, job, dispatch, jobDefinition)),
    );
    if (jobId === undefined) throw new Error(`Batch returned no job id for ${dispatch.name}`);
    return { backendJobId: jobId };
  }

  /** Looks in `dispatch.queue` when the dispatcher recorded it, else in the queue of the dispatch's pool. */
  async findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined> {
    return this.findOn(dispatch.queue ?? batchQueue(this.options.env, dispatch), dispatch.name);
  }

  async terminate(dispatch: Dispatch, reason: string): Promise<void> {
    // TerminateJob of a finished job is a no-op in Batch, so its status need not be checked first.
    const jobId = dispatch.backendJobId ?? (await this.findByName(dispatch))?.backendJobId;
    if (jobId !== undefined) await this.client.send(new TerminateJobCommand({ jobId, reason }));
  }

  /** Every status: with a name filter, ListJobs ignores `jobStatus` and returns them all. */
  private async findOn(jobQueue: string, name: string): Promise<{ backendJobId: string } | undefined> {
    const { jobSummaryList = [] } = await this.client.send(
      new ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [name] }] }),
    );
    const newest = jobSummaryList
      .filter((j): j is JobSummary & { jobId: string } => j.jobName === name && j.jobId !== undefined)
      .sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0))[0];
    return newest && { backendJobId: newest.jobId };
  }
}

/** The queue of the pool the job was placed in (config/queues.ts: one queue per Batch pool). */
export function batchQueue(env: string, dispatch: Dispatch): string {
  return queueName(env, dispatch.pool);
}

/** The job definition CDK deploys for this shape of job (see lib/compute/training-job-definitions). */
export function baseJobDefinition(env: string, job: JobRecord): string {
  if (job.spec.resources.nodes > 1) return `drivetrain-${env}-${fleetOf(job.spec)}-multi-node`;
  return job.spec.resources.gpus > 0 ? `drivetrain-${env}-gpu` : `drivetrain-${env}-cpu`;
}

/** The exact SubmitJob request of one attempt. */
export function submitJobRequest(
  env: string,
  job: JobRecord,
  dispatch: Dispatch,
  jobDefinition: string,
): SubmitJobRequest {
  const { spec } = job;
  const container = containerOverrides(job);
  const gang = spec.resources.nodes > 1;
  return {
    jobName: dispatch.name,
    jobQueue: batchQueue(env, dispatch),
    jobDefinition,
    shareIdentifier: job.team,
    schedulingPriorityOverride: PRIORITY_CLASSES[spec.priorityClass].value,
    ...(gang
      ? {
          // One override for every node ("0:"): Batch sets AWS_BATCH_JOB_NODE_INDEX per node.
          nodeOverrides: {
            numNodes: spec.resources.nodes,
            nodePropertyOverrides: [{ targetNodes: '0:', containerOverrides: container }],
          },
        }
      : { containerOverrides: container }),
    timeout: { attemptDurationSeconds: spec.maxRuntimeS },
    retryStrategy: {
      attempts: Math.min(spec.retries + 1, MAX_BATCH_ATTEMPTS),
      // Retry what the platform broke, not what the job broke (same rule as the job definitions).
      evaluateOnExit: [
        { onStatusReason: `${HOST_FAILURE}*`, action: 'RETRY' },
        { onReason: '*', action: 'EXIT' },
      ],
    },
    tags: attemptTags(job),
    propagateTags: true,
  };
}

function containerOverrides(job: JobRecord): ContainerOverrides {
  const { resources } = job.spec;
  return {
    command: argv(job.spec),
    environment: Object.entries(attemptEnvironment(job)).map(([name, value]) => ({ name, value })),
    resourceRequirements: [
      ...(resources.gpus > 0 ? [{ type: 'GPU' as const, value: String(resources.gpus) }] : []),
      // EC2 compute environments take whole vCPUs only.
      { type: 'VCPU', value: String(Math.ceil(resources.cpus)) },
      { type: 'MEMORY', value: String(resources.memoryMiB) },
    ],
  };
}

/** The part of an EventBridge "Batch Job State Change" event the dispatcher reads. */
export interface BatchJobStateChange {
  readonly 'detail-type'?: string;
  readonly detail: {
    readonly jobName: string;
    readonly jobId: string;
    readonly status: string;
    readonly statusReason?: string;
    readonly container?: { readonly exitCode?: number };
    readonly attempts?: readonly {
      readonly container?: { readonly exitCode?: number };
      readonly statusReason?: string;
    }[];
  };
}

/**
 * What a Batch state change means for the job. A FAILED attempt whose reason is a lost host
 * ("Host EC2 (instance i-…) terminated.", which is how spot reclaims read) is INTERRUPTED:
 * the job is requeued, not failed.
 */
export function batchEventToStatus(event: BatchJobStateChange): BackendJobStatus {
  const { detail } = event;
  const base = { name: detail.jobName, backendJobId: detail.jobId };
  const reason = detail.statusReason;
  switch (detail.status) {
    case 'RUNNING':
      return { ...base, state: 'RUNNING' };
    case 'SUCCEEDED':
      return { ...base, state: 'SUCCEEDED', exitCode: exitCodeOf(detail) ?? 0 };
    case 'FAILED': {
      const lostHost = hostFailureOf(detail);
      return lostHost
        ? { ...base, state: 'INTERRUPTED', reason: lostHost }
        : { ...base, state: 'FAILED', reason, exitCode: exitCodeOf(detail) };
    }
    default:
      // SUBMITTED, PENDING, RUNNABLE, STARTING: accepted, not yet running.
      return { ...base, state: 'STARTING', reason };
  }
}

/** The job's or its last attempt's reason, when it says the instance went away. */
function hostFailureOf(detail: BatchJobStateChange['detail']): string | undefined {
  return [detail.statusReason, detail.attempts?.at(-1)?.statusReason].find((r) =>
    r?.startsWith(HOST_FAILURE),
  );
}

function exitCodeOf(detail: BatchJobStateChange['detail']): number | undefined {
  return detail.attempts?.at(-1)?.container?.exitCode ?? detail.container?.exitCode;
}
