import type { UsageLedger } from '../scheduler/model';
import type { BackendKind, Dispatch, JobRecord } from './job';
import type { QueueReport } from './queues';
import type { JobState } from './states';

/** Persistence of job records. Implemented over DynamoDB (AWS and dynalite alike). */
export interface JobStore {
  /**
   * Creates the job unless a job with the same id exists (ids derive from the idempotency
   * key when there is one); returns the stored job and whether this call created it.
   */
  create(job: JobRecord): Promise<{ job: JobRecord; created: boolean }>;
  get(id: string): Promise<JobRecord | undefined>;
  /** A team's jobs, newest first, optionally in one state. */
  listByTeam(query: ListQuery): Promise<JobPage>;
  /**
   * Every job in one (non-terminal) state: the dispatcher's view of the world. With
   * `updatedSince` (an ISO time), only those written after it.
   */
  listByState(state: JobState, updatedSince?: string): Promise<JobRecord[]>;
  /**
   * Moves a job to `to` if it is still in one of the states `to` may be reached from (and at
   * `expectedVersion` when given), applying `changes`. Throws `TransitionConflict` otherwise.
   */
  transition(job: JobKey, to: JobState, changes?: JobChanges, expectedVersion?: number): Promise<JobRecord>;
  /** Updates fields without a state change, under the same optimistic-concurrency rule. */
  update(job: JobKey, changes: JobChanges, expectedVersion?: number): Promise<JobRecord>;
}

/** Identifies a job for a write; the team is immutable and keys the team indexes. */
export type JobKey = Pick<JobRecord, 'id' | 'team'>;

export type JobChanges = Partial<
  Pick<
    JobRecord,
    | 'attempt'
    | 'startedAt'
    | 'endedAt'
    | 'dispatch'
    | 'pendingReason'
    | 'stateReason'
    | 'exitCode'
    | 'preemptions'
    | 'attainedGpuS'
    | 'cancelRequested'
    | 'interruptions'
    | 'backendRetry'
  >
>;

export interface ListQuery {
  readonly team: string;
  readonly state?: JobState;
  readonly limit: number;
  /** Opaque token from the previous page. */
  readonly nextToken?: string;
}

export interface JobPage {
  readonly jobs: JobRecord[];
  readonly nextToken?: string;
}

export class TransitionConflict extends Error {
  constructor(
    readonly jobId: string,
    readonly to: JobState,
    readonly actual?: JobState,
  ) {
    super(`job ${jobId} cannot move to ${to}${actual ? ` from ${actual}` : ''}`);
    this.name = 'TransitionConflict';
  }
}

export class JobNotFound extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} not found`);
    this.name = 'JobNotFound';
  }
}

/** What a backend is asked to run: one attempt of one job. */
export interface BackendSubmission {
  readonly job: JobRecord;
  readonly dispatch: Dispatch;
}

/** What a backend reports about one of its jobs. */
export interface BackendJobStatus {
  readonly name: string;
  readonly backendJobId: string;
  readonly state: 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'INTERRUPTED';
  /** INTERRUPTED: the platform took the capacity (spot reclaim, host loss); the job is requeued, not failed. */
  readonly reason?: string;
  readonly exitCode?: number;
}

/**
 * A place jobs run: AWS Batch, SageMaker, EKS (RayJob) or local processes. Submits are
 * idempotent by `dispatch.name`: the dispatcher may submit again after a crash.
 */
export interface ComputeBackend {
  readonly kind: BackendKind;
  /** Starts the attempt, or returns the existing backend job of that name. */
  submit(submission: BackendSubmission): Promise<{ backendJobId: string }>;
  /** Finds a backend job by its deterministic name (crash recovery); undefined if none. */
  findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined>;
  /** Stops the attempt (cancel or preemption). Stopping a finished job is not an error. */
  terminate(dispatch: Dispatch, reason: string): Promise<void>;
  /**
   * Current status of an attempt, for backends that publish no state-change events (EKS);
   * the dispatcher asks once per round for each live job on them.
   */
  poll?(dispatch: Dispatch): Promise<BackendJobStatus | undefined>;
  /**
   * Reconciliation: the backend's own view of these attempts, keyed by `dispatch.name`. An
   * attempt missing from the result is unknown to the backend (never submitted, lost, or
   * purged). Batches where the API allows (Batch DescribeJobs takes 100 ids per call).
   */
  reconcile?(dispatches: readonly Dispatch[]): Promise<Map<string, BackendJobStatus>>;
}

/**
 * Where attempts save checkpoints: `DRIVETRAIN_CHECKPOINT_DIR` of every attempt of a job (a
 * directory locally, an S3 prefix of the artifacts bucket on AWS), and when the newest
 * checkpoint there was written, which tells the scheduler how much work a preemption loses.
 */
export interface CheckpointStore {
  /** The job's checkpoint location as its attempts see it. */
  locationOf(job: JobKey): string;
  /** When the newest object under the job's location was written; undefined when there is none. */
  newestCheckpoint(job: JobKey): Promise<Date | undefined>;
}

/** Where job logs come from: files locally, CloudWatch Logs on AWS. */
export interface LogSource {
  /**
   * Whole lines of one attempt's log from `offset`, a position only meaningful to the source
   * (bytes of a file, events of a log stream): pass `nextOffset` back to continue.
   */
  read(jobId: string, attempt: number, offset: number): Promise<LogChunk>;
}

export interface LogChunk {
  readonly lines: string[];
  readonly nextOffset: number;
  /** The attempt has ended and every line was returned. */
  readonly complete: boolean;
}

/**
 * What the dispatcher keeps between rounds, outside any one process: the scheduler's decayed
 * fair-share usage (so a cold start does not forget who had the cluster lately) and the
 * queue report of its latest round (so `GET /queues` reads one item, not the backlog).
 */
export interface DispatcherState {
  readonly usage: UsageLedger;
  readonly queues?: QueueReport;
}

export interface DispatcherStateStore {
  load(): Promise<DispatcherState | undefined>;
  save(state: DispatcherState): Promise<void>;
}
