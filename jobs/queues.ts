import type { Pool, Team } from '../scheduler/model';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { CPU_POOL_TYPE } from './cluster';
import type { JobRecord, PendingReason } from './job';
import type { DispatcherStateStore, JobStore } from './ports';

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

/** Heads in the order a person expects: higher class first, then oldest. */
function aheadOf(a: JobRecord, b: JobRecord): boolean {
  const byClass = PRIORITY_CLASSES[a.spec.priorityClass].value - PRIORITY_CLASSES[b.spec.priorityClass].value;
  return byClass > 0 || (byClass === 0 && a.submittedAt < b.submittedAt);
}

/** Keeps the first `HEADS_PER_TEAM` jobs in `heads`, in order: linear in the backlog, no sort of it. */
function offerHead(heads: JobRecord[], job: JobRecord): void {
  if (heads.length === HEADS_PER_TEAM && !aheadOf(job, heads[HEADS_PER_TEAM - 1]!)) return;
  let at = heads.length;
  while (at > 0 && aheadOf(job, heads[at - 1]!)) at--;
  heads.splice(at, 0, job);
  if (heads.length > HEADS_PER_TEAM) heads.pop();
}

export interface QueueSnapshot {
  readonly pending: readonly JobRecord[];
  /** Dispatched and running jobs. */
  readonly active: readonly JobRecord[];
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  /** The freshest why-pending reason of a job (the dispatcher's latest decision); else the stored one. */
  readonly reasonOf?: (job: JobRecord) => PendingReason | undefined;
}

/**
 * The report as one team may see it: its own head jobs with names and reasons, and of the
 * other teams only the counts (job ids and names are theirs).
 */
export function queueReportFor(report: QueueReport, team: string): QueueReport {
  return { ...report, teams: report.teams.map((t) => (t.team === team ? t : { ...t, heads: [] })) };
}

/** Per-team and per-pool view of who waits, who runs, and why, in one pass over each list. */
export function buildQueueReport({ pending, active, pools, teams, reasonOf }: QueueSnapshot): QueueReport {
  const byTeam = new Map(
    teams.map((t) => [
      t.id,
      { pending: 0, running: 0, gpusInUse: new Map<string, number>(), heads: [] as JobRecord[] },
    ]),
  );
  for (const job of pending) {
    const entry = byTeam.get(job.team);
    if (!entry) continue;
    entry.pending++;
    offerHead(entry.heads, job);
  }
  const poolGpus = new Map<string, number>();
  for (const job of active) {
    const entry = byTeam.get(job.team);
    if (entry) {
      // A CPU job may still name a GPU type (any string, even "constructor"): it is not one.
      const { gpus, gpuType } = job.spec.resources;
      const type = gpus > 0 && gpuType !== undefined ? gpuType : CPU_POOL_TYPE;
      entry.running++;
      entry.gpusInUse.set(type, (entry.gpusInUse.get(type) ?? 0) + gpusOf(job));
    }
    if (job.dispatch) poolGpus.set(job.dispatch.pool, (poolGpus.get(job.dispatch.pool) ?? 0) + gpusOf(job));
  }
  return {
    teams: teams.map((team) => {
      const entry = byTeam.get(team.id)!;
      return {
        team: team.id,
        weight: team.weight,
        pending: entry.pending,
        running: entry.running,
        gpusInUse: Object.fromEntries(entry.gpusInUse),
        quota: { ...team.nominalQuota },
        heads: entry.heads.map((j) => ({
          id: j.id,
          name: j.spec.name,
          priorityClass: j.spec.priorityClass,
          reason: reasonOf?.(j) ?? j.pendingReason,
        })),
      };
    }),
    pools: pools.map((pool) => ({
      pool: pool.id,
      gpuType: pool.gpuType,
      capacityType: pool.capacityType,
      gpus: pool.node.gpus * pool.nodeCount,
      gpusInUse: poolGpus.get(pool.id) ?? 0,
    })),
  };
}

/** The report read straight from the store: for when the dispatcher has not published one yet. */
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
  return buildQueueReport({ pending, active: [...dispatched, ...running], pools, teams });
}

/**
 * `GET /queues`: the report the dispatcher published with its latest round (one read), or,
 * before its first round, one built from the store.
 */
export async function latestQueueReport(
  state: DispatcherStateStore,
  store: JobStore,
  pools: readonly Pool[],
  teams: readonly Team[],
): Promise<QueueReport> {
  return (await state.load())?.queues ?? queueReport(store, pools, teams);
}
