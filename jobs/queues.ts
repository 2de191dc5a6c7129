import type { Pool, Team } from '../scheduler/model';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { CPU_POOL_TYPE } from './cluster';
import type { JobRecord, PendingReason } from './job';
import type { JobStore } from './ports';

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

const HEADS_PER_TEAM = 5;

function gpusOf(job: JobRecord): number {
  return job.spec.resources.gpus * job.spec.resources.nodes;
}

/** Per-team and per-pool view of who waits, who runs, and why: `GET /queues`. */
export async function queueReport(
  store: JobStore,
  pools: readonly Pool[],
  teams: readonly Team[],
): Promise<QueueReport> {
  const [pending, dispatched, running] = await Promise.all([
    store.listByState('PENDING'),
    store.listByState('DISPATCHED'),
    store.listByState('RUNNING'),
  ]);
  const active = [...dispatched, ...running];
  // Heads in the order a person expects: higher class first, then oldest.
  const order = (a: JobRecord, b: JobRecord) =>
    PRIORITY_CLASSES[b.spec.priorityClass].value - PRIORITY_CLASSES[a.spec.priorityClass].value ||
    a.submittedAt.localeCompare(b.submittedAt);

  return {
    teams: teams.map((team) => {
      const gpusInUse: Record<string, number> = {};
      for (const job of active.filter((j) => j.team === team.id)) {
        const type = job.spec.resources.gpuType ?? CPU_POOL_TYPE;
        gpusInUse[type] = (gpusInUse[type] ?? 0) + gpusOf(job);
      }
      const waiting = pending.filter((j) => j.team === team.id).sort(order);
      return {
        team: team.id,
        weight: team.weight,
        pending: waiting.length,
        running: active.filter((j) => j.team === team.id).length,
        gpusInUse,
        quota: { ...team.nominalQuota },
        heads: waiting.slice(0, HEADS_PER_TEAM).map((j) => ({
          id: j.id,
          name: j.spec.name,
          priorityClass: j.spec.priorityClass,
          reason: j.pendingReason,
        })),
      };
    }),
    pools: pools.map((pool) => ({
      pool: pool.id,
      gpuType: pool.gpuType,
      capacityType: pool.capacityType,
      gpus: pool.node.gpus * pool.nodeCount,
      gpusInUse: active.filter((j) => j.dispatch?.pool === pool.id).reduce((sum, j) => sum + gpusOf(j), 0),
    })),
  };
}
