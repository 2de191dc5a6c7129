import type { PendingReason } from '../jobs/job';
import type { JobSpec } from '../jobs/spec';
import type { JobState } from '../jobs/states';

/** The job API's wire types, as the HTTP contract defines them. */

export interface JobView {
  readonly id: string;
  readonly team: string;
  readonly name: string;
  readonly state: JobState;
  readonly priorityClass: JobSpec['priorityClass'];
  readonly preemptible: boolean;
  readonly resources: JobSpec['resources'];
  readonly backend: string;
  readonly attempt: number;
  readonly submittedAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly pool?: string;
  readonly pendingReason?: PendingReason;
  readonly stateReason?: string;
  readonly exitCode?: number;
  readonly preemptions: number;
  readonly spec: JobSpec;
}

export interface JobResponse {
  readonly job: JobView;
}

export interface JobPage {
  readonly jobs: readonly JobView[];
  readonly nextToken?: string;
}

export interface LogPage {
  readonly lines: readonly string[];
  /** Byte offset to ask for next; resuming from it never repeats or skips a line. */
  readonly nextOffset: number;
  /** The attempt has ended and every line has been returned. */
  readonly complete: boolean;
}

/** GPUs by GPU type, e.g. `{ a10g: 4 }`. */
export type GpuCounts = Readonly<Record<string, number>>;

export interface QueueHead {
  readonly id: string;
  readonly name: string;
  readonly priorityClass: string;
  readonly reason: PendingReason;
}

export interface TeamQueue {
  readonly team: string;
  readonly weight: number;
  readonly pending: number;
  readonly running: number;
  readonly gpusInUse: GpuCounts;
  readonly quota: GpuCounts;
  readonly heads: readonly QueueHead[];
}

export interface PoolUsage {
  readonly pool: string;
  readonly gpuType: string;
  readonly capacityType: string;
  readonly gpus: number;
  readonly gpusInUse: number;
}

export interface QueuesView {
  readonly teams: readonly TeamQueue[];
  readonly pools: readonly PoolUsage[];
}

export interface ListJobsQuery {
  readonly team?: string;
  readonly state?: JobState;
  readonly limit?: number;
  readonly nextToken?: string;
}

export interface LogsQuery {
  readonly attempt?: number;
  readonly offset?: number;
}
