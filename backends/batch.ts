import {
  type BatchClient,
  type ContainerOverrides,
  DescribeJobsCommand,
  type JobSummary,
  ListJobsCommand,
  SubmitJobCommand,
  type SubmitJobRequest,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { queueName } from '../config/queues';
import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, CheckpointStore, ComputeBackend } from '../jobs/ports';
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
  /** Where each job checkpoints (its team's prefix of the artifacts bucket): DRIVETRAIN_CHECKPOINT_DIR. */
  readonly checkpoints?: Pick<CheckpointStore, 'locationOf'>;
}

/** How Batch begins the status reason of an attempt whose instance went away (spot reclaim, host failure). */
const HOST_FAILURE = 'Host EC2';
/** How Batch words an attempt it stopped at `timeout.attemptDurationSeconds`. */
const TIMED_OUT = /attempt duration exceeded timeout/i;
/** DescribeJobs takes at most 100 job ids per call. */
const DESCRIBE_JOBS_MAX = 100;

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
      new SubmitJobCommand(
        submitJobRequest(this.options.env, job, dispatch, jobDefinition, this.options.checkpoints),
      ),
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

  /**
   * Batch's own view of attempts: DescribeJobs by recorded job id, up to the 100 ids a call
   * takes (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html). A
   * job Batch no longer knows (never submitted, or purged) is missing from the result.
   */
  async reconcile(dispatches: readonly Dispatch[]): Promise<Map<string, BackendJobStatus>> {
    const byId = new Map(dispatches.flatMap((d) => (d.backendJobId ? [[d.backendJobId, d] as const] : [])));
    const ids = [...byId.keys()];
    const statuses = new Map<string, BackendJobStatus>();
    for (let from = 0; from < ids.length; from += DESCRIBE_JOBS_MAX) {
      const { jobs = [] } = await this.client.send(
        new DescribeJobsCommand({ jobs: ids.slice(from, from + DESCRIBE_JOBS_MAX) }),
      );
      for (const job of jobs) {
        const dispatch = job.jobId === undefined ? undefined : byId.get(job.jobId);
        if (dispatch === undefined || job.jobName !== dispatch.name || job.status === undefined) continue;
        statuses.set(
          dispatch.name,
          batchEventToStatus({
            detail: { ...job, jobName: job.jobName, jobId: job.jobId!, status: job.status },
          }),
        );
      }
    }
    return statuses;
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

/**
 * The job definition CDK deploys for this team and shape of job (lib/compute/training-job-definitions:
 * `drivetrain-<env>-<team>-<shape>`), which runs as the team's own job role.
 */
export function baseJobDefinition(env: string, job: JobRecord): string {
  const shape =
    job.spec.resources.nodes > 1
      ? `${fleetOf(job.spec)}-multi-node`
      : job.spec.resources.gpus > 0
        ? 'gpu'
        : 'cpu';
  return `drivetrain-${env}-${job.team}-${shape}`;
}

/** The exact SubmitJob request of one attempt. */
export function submitJobRequest(
  env: string,
  job: JobRecord,
  dispatch: Dispatch,
  jobDefinition: string,
  checkpoints?: Pick<CheckpointStore, 'locationOf'>,
): SubmitJobRequest {
  const { spec } = job;
  const container = containerOverrides(job, checkpoints);
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
    // One Batch attempt per dispatcher attempt: the dispatcher requeues interruptions itself
    // (under a new attempt name, counted against spec.retries), so Batch must not retry too.
    retryStrategy: { attempts: 1 },
    tags: attemptTags(job),
    propagateTags: true,
  };
}

function containerOverrides(
  job: JobRecord,
  checkpoints?: Pick<CheckpointStore, 'locationOf'>,
): ContainerOverrides {
  const { resources } = job.spec;
  const checkpointDir = checkpoints?.locationOf(job);
  return {
    command: argv(job.spec),
    environment: Object.entries(attemptEnvironment(job, { checkpointDir })).map(([name, value]) => ({
      name,
      value,
    })),
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
      if (lostHost) return { ...base, state: 'INTERRUPTED', reason: lostHost };
      const reasons = [reason, detail.attempts?.at(-1)?.statusReason];
      if (reasons.some((r) => r !== undefined && TIMED_OUT.test(r))) {
        return { ...base, state: 'FAILED', reason: 'timed out', exitCode: exitCodeOf(detail) };
      }
      return { ...base, state: 'FAILED', reason, exitCode: exitCodeOf(detail) };
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
