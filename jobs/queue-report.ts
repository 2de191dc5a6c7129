import type { PendingReason } from './job';

/**
 * What `GET /queues` returns: per team who waits and who runs, and per pool the GPUs in use.
 * Plain types apart from jobs/queues.ts, so the ports (DispatcherState) need not import it.
 */
export interface QueueReport {
  readonly teams: TeamQueue[];
  readonly pools: PoolUsage[];
}

export interface TeamQueue {
  readonly team: string;
  readonly weight: number;
  readonly pending: number;
  readonly running: number;
  readonly gpusInUse: Record<string, number>;
  readonly quota: Record<string, number>;
  /** The next jobs in line, with why each still waits. */
  readonly heads: { id: string; name: string; priorityClass: string; reason?: PendingReason }[];
}

export interface PoolUsage {
  readonly pool: string;
  readonly gpuType: string;
  readonly capacityType: string;
  readonly gpus: number;
  readonly gpusInUse: number;
}
