import type { PoolCapacity } from '../capacity';
import { type Job, perNode, type RunningJob } from '../model';
import type { Reservation } from '../policy';
import type { Resources } from '../resources';
import { limitEnd } from './reservation';

interface PlannedStart {
  readonly startS: number;
  readonly jobId: string;
}

/**
 * Conservative backfill for the starving queue (Mu'alem and Feitelson 2001; Slurm's backfill
 * plans every job it tests, `bf_max_job_test`): each starving job gets a planned start in a
 * per-node availability profile, in the order it is planned, and no later job may run on a
 * node past the first start planned there for another job. The profile goes by declared
 * limits (never a job's true run time): on a node nothing is planned on yet, a job's member
 * fits once enough of the node's jobs have reached their limits; once something is planned
 * on a node, the next plan there waits until the node is empty of everything (its jobs' and
 * the planned job's limits). That over-holds, never under-holds: no planned start is delayed
 * by a later one. It is rebuilt every round from what runs, so a plan moves up as jobs end early.
 */
export class ReservationProfile {
  private readonly nodes = new Map<string, ProfileNode[]>();
  private plannedCount = 0;

  /**
   * `taken(poolId, node)`: nodes already held by a hold of another kind, left out of the
   * profile (planned around them, never on them).
   */
  constructor(
    pools: readonly PoolCapacity[],
    running: readonly RunningJob[],
    private readonly now: number,
    taken: (poolId: string, node: number) => boolean,
  ) {
    for (const pool of pools)
      this.nodes.set(
        pool.pool.id,
        Array.from({ length: pool.nodeCount }, (_, node) => ({
          runs: [],
          free: { ...pool.pool.node },
          emptyFromS: taken(pool.pool.id, node) ? Number.POSITIVE_INFINITY : now,
          planned: [],
        })),
      );
    for (const run of running) {
      const nodes = this.nodes.get(run.placement.poolId);
      if (nodes === undefined) continue;
      const endS = limitEnd(run, now);
      const member = perNode(run.job.resources);
      for (const index of run.placement.nodes) {
        const node = nodes[index]!;
        node.runs.push({ endS, member });
        node.free = minus(node.free, member);
        node.emptyFromS = Math.max(node.emptyFromS, endS);
      }
    }
    for (const nodes of this.nodes.values())
      for (const node of nodes) node.runs.sort((a, b) => a.endS - b.endS);
  }

  get size(): number {
    return this.plannedCount;
  }

  /**
   * Plans `job` on the nodes of `pools` (those it may run on) where its members fit earliest,
   * and returns its planned start; undefined (and nothing planned) if no pool can ever hold
   * it, every node is held otherwise, or it could start only after `latestS`.
   */
  plan(
    job: Job,
    pools: readonly PoolCapacity[],
    latestS = Number.POSITIVE_INFINITY,
  ): Reservation | undefined {
    const member = perNode(job.resources);
    let best: Reservation | undefined;
    for (const pool of pools) {
      if (!pool.couldEverHold(job.resources)) continue;
      const nodes = this.nodes.get(pool.pool.id);
      if (nodes === undefined) continue;
      const exclusive = pool.pool.exclusiveNodes === true;
      const fitsAt = nodes.map((node) => this.fitsFrom(node, member, exclusive));
      const earliest = [...fitsAt.keys()]
        .sort((a, b) => fitsAt[a]! - fitsAt[b]! || a - b)
        .slice(0, job.resources.nodes);
      const untilS = fitsAt[earliest[earliest.length - 1]!]!;
      if (!Number.isFinite(untilS)) continue;
      if (best === undefined || untilS < best.untilS)
        best = { jobId: job.id, placement: { poolId: pool.pool.id, nodes: earliest }, untilS };
    }
    if (best === undefined || best.untilS > latestS) return undefined;
    const nodes = this.nodes.get(best.placement.poolId)!;
    for (const index of best.placement.nodes) {
      const node = nodes[index]!;
      node.emptyFromS = Math.max(node.emptyFromS, best.untilS + job.maxRuntimeS);
      node.planned.push({ startS: best.untilS, jobId: job.id });
    }
    this.plannedCount++;
    return best;
  }

  /** When a member fits on `node` and stays until the profile's end, by limits. */
  private fitsFrom(node: ProfileNode, member: Resources, exclusive: boolean): number {
    if (exclusive || node.planned.length > 0 || !Number.isFinite(node.emptyFromS)) return node.emptyFromS;
    let free = node.free;
    if (holds(free, member)) return this.now;
    for (const run of node.runs) {
      free = plus(free, run.member);
      if (holds(free, member)) return run.endS;
    }
    return node.emptyFromS;
  }

  /** Whether `job`, started now, would be gone from `node` before any other job's planned start. */
  permits(poolId: string, node: number, job: Job, now: number): boolean {
    const starts = this.nodes.get(poolId)?.[node]?.planned;
    if (starts === undefined) return true;
    // Starts on a node are planned in increasing order: the first other job's binds.
    const first = starts.find(({ jobId }) => jobId !== job.id);
    return first === undefined || now + job.maxRuntimeS <= first.startS;
  }

  /** Whether any start is planned on `node`. */
  isPlanned(poolId: string, node: number): boolean {
    return (this.nodes.get(poolId)?.[node]?.planned.length ?? 0) > 0;
  }
}

interface ProfileNode {
  /** Its running jobs' members, by limit end. */
  readonly runs: { readonly endS: number; readonly member: Resources }[];
  /** Free now. */
  free: Resources;
  /** When everything running or planned on it has reached its limit. */
  emptyFromS: number;
  /** Starts planned here, in the order they were planned (so increasing). */
  readonly planned: PlannedStart[];
}

// Resource splits like 12 GPUs over 2 nodes give fractions; never call a rounding error a fit.
const EPSILON = 1e-9;

function holds(free: Resources, member: Resources): boolean {
  return (
    free.gpus + EPSILON >= member.gpus &&
    free.cpus + EPSILON >= member.cpus &&
    free.memoryMiB + EPSILON >= member.memoryMiB
  );
}

function plus(a: Resources, b: Resources): Resources {
  return { gpus: a.gpus + b.gpus, cpus: a.cpus + b.cpus, memoryMiB: a.memoryMiB + b.memoryMiB };
}

function minus(a: Resources, b: Resources): Resources {
  return { gpus: a.gpus - b.gpus, cpus: a.cpus - b.cpus, memoryMiB: a.memoryMiB - b.memoryMiB };
}
