import type { JobSpec } from './spec';
import type { JobState } from './states';

export type BackendKind = 'batch' | 'eks' | 'sagemaker' | 'local';
export type CapacityType = 'on-demand' | 'spot';

/** Where the dispatcher sent one attempt of a job. */
export interface Dispatch {
  readonly backend: BackendKind;
  /** Scheduler pool: `<fleet>-<capacity>`, e.g. `a10g-spot`. */
  readonly pool: string;
  readonly capacityType: CapacityType;
  /** Node indexes within the pool, one per gang member (from the scheduler's placement). */
  readonly nodes: readonly number[];
  /**
   * Deterministic backend name from job id and attempt: a retried submit after a crash finds
   * the same backend job instead of creating a second one.
   */
  readonly name: string;
  /** Backend's own id (Batch job id, SageMaker training job ARN, RayJob uid, local pid key); absent until recorded. */
  readonly backendJobId?: string;
  readonly queue?: string;
  /** When the dispatcher claimed the attempt: a backend may not know it yet just after. */
  readonly submittedAt?: string;
}

/** A backend call that failed for one job and is tried again later (kept in the record, so it survives cold starts). */
export interface BackendRetry {
  readonly op: 'submit' | 'terminate';
  /** Failures of `op` in a row. */
  readonly count: number;
  /** Not tried again before this ISO time. */
  readonly notBefore: string;
  readonly error: string;
}

/** Machine-readable reason a job waits, and a sentence for people. */
export interface PendingReason {
  readonly code: string;
  readonly message: string;
}

export interface JobRecord {
  readonly id: string;
  readonly team: string;
  readonly spec: JobSpec;
  readonly state: JobState;
  /** 0 until first dispatch; incremented by each dispatch. */
  readonly attempt: number;
  readonly submittedAt: string;
  readonly updatedAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly dispatch?: Dispatch;
  readonly pendingReason?: PendingReason;
  /** Why the job reached its current state (exit code, reclaim, cancel). */
  readonly stateReason?: string;
  readonly exitCode?: number;
  readonly preemptions: number;
  /**
   * Attempts the infrastructure took away (spot reclaim, host loss, an attempt its backend
   * lost): counted against `spec.retries`. Scheduler preemptions are not counted.
   */
  readonly interruptions?: number;
  readonly backendRetry?: BackendRetry;
  /** GPU-seconds of earlier attempts: preempted work still counts as service received. */
  readonly attainedGpuS: number;
  /** A cancel was asked for while the job held capacity; the dispatcher stops it. */
  readonly cancelRequested?: boolean;
  /** Hash of the spec, to tell a replayed submission from a different one with the same key. */
  readonly specHash: string;
  /** Optimistic-concurrency counter, incremented by every write. */
  readonly version: number;
}
