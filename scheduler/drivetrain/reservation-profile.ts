import type { PoolCapacity } from '../capacity';
import type { Job, RunningJob } from '../model';
import type { Reservation } from '../policy';
import { limitEnd } from './reservation';

interface PlannedStart {
  readonly startS: number;
  readonly jobId: string;
}

/**
 * Conservative backfill for the starving queue (Mu'alem and Feitelson 2001; Slurm's backfill
 * plans every job it tests, `bf_max_job_test`): each starving job gets a planned start in a
 * per-node availability profile, in the order it is planned, and no later job may run on a
 * node past the first start planned there for another job. The profile is whole nodes by
 * declared limits (never a job's true run time): a node is free once every job on it has
 * reached its limit, and a planned job takes its nodes until its own limit. That over-holds
 * for jobs smaller than a node, never under-holds: no planned start is delayed by a later one.
 * It is rebuilt every round from what runs, so a plan moves up as jobs end early.
 */
export class ReservationProfile {
  /** Per pool and node: when it is free of everything planned so far, by limits. */
  private readonly freeFromS = new Map<string, Float64Array>();
  /** Per pool and node: starts planned there, in the order they were planned. */
  private readonly planned = new Map<string, PlannedStart[][]>();
  private plannedCount = 0;

  /**
   * `taken(poolId, node)`: nodes already held by a hold of another kind, left out of the
   * profile (planned around them, never on them).
   */
  constructor(
    pools: readonly PoolCapacity[],
    running: readonly RunningJob[],
    now: number,
    taken: (poolId: string, node: number) => boolean,
  ) {
    for (const pool of pools) {
      const freeFrom = new Float64Array(pool.nodeCount).fill(now);
      for (let node = 0; node < pool.nodeCount; node++)
        if (taken(pool.pool.id, node)) freeFrom[node] = Number.POSITIVE_INFINITY;
      this.freeFromS.set(pool.pool.id, freeFrom);
      this.planned.set(
        pool.pool.id,
        Array.from({ length: pool.nodeCount }, () => []),
      );
    }
    for (const run of running) {
      const freeFrom = this.freeFromS.get(run.placement.poolId);
      if (freeFrom === undefined) continue;
      const end = limitEnd(run, now);
      for (const node of run.placement.nodes) freeFrom[node] = Math.max(freeFrom[node]!, end);
    }
  }

  get size(): number {
    return this.plannedCount;
  }

  /**
   * Plans `job` on the nodes of `pools` (those it may run on) that free earliest, and returns
   * its planned start; undefined (and nothing planned) if no pool can ever hold it, every node
   * is held otherwise, or it could start only after `latestS`.
   */
  plan(
    job: Job,
    pools: readonly PoolCapacity[],
    latestS = Number.POSITIVE_INFINITY,
  ): Reservation | undefined {
    let best: Reservation | undefined;
    for (const pool of pools) {
      if (!pool.couldEverHold(job.resources)) continue;
      const freeFrom = this.freeFromS.get(pool.pool.id);
      if (freeFrom === undefined || job.resources.nodes > freeFrom.length) continue;
      const earliest = [...freeFrom.keys()]
        .sort((a, b) => freeFrom[a]! - freeFrom[b]! || a - b)
        .slice(0, job.resources.nodes);
      const untilS = freeFrom[earliest[earliest.length - 1]!]!;
      if (!Number.isFinite(untilS)) continue;
      if (best === undefined || untilS < best.untilS)
        best = { jobId: job.id, placement: { poolId: pool.pool.id, nodes: earliest }, untilS };
    }
    if (best === undefined || best.untilS > latestS) return undefined;
    const freeFrom = this.freeFromS.get(best.placement.poolId)!;
    const planned = this.planned.get(best.placement.poolId)!;
    for (const node of best.placement.nodes) {
      freeFrom[node] = best.untilS + job.maxRuntimeS;
      planned[node]!.push({ startS: best.untilS, jobId: job.id });
    }
    this.plannedCount++;
    return best;
  }

  /** Whether `job`, started now, would be gone from `node` before any other job's planned start. */
  permits(poolId: string, node: number, job: Job, now: number): boolean {
    const starts = this.planned.get(poolId)?.[node];
    if (starts === undefined) return true;
    // Starts on a node are planned in increasing order: the first other job's binds.
    const first = starts.find(({ jobId }) => jobId !== job.id);
    return first === undefined || now + job.maxRuntimeS <= first.startS;
  }

  /** Whether any start is planned on `node`. */
  isPlanned(poolId: string, node: number): boolean {
    return (this.planned.get(poolId)?.[node]?.length ?? 0) > 0;
  }
}
