import type { PoolCapacity } from '../capacity';
import { type Job, type Placement, perNode, type RunningJob } from '../model';
import type { Reservation } from '../policy';

/**
 * EASY backfill (Lifka, 1995): a job that cannot start gets the nodes it will be able to use
 * earliest, assuming every running job ends at its declared max runtime (its "shadow
 * time"). Other jobs may use those nodes only if they are sure to be gone by then, so the
 * reserved job is never delayed by backfill. `free` rules out nodes already held for
 * another job, so reservations never overlap.
 */
export function reserveEarliest(
  job: Job,
  pools: readonly PoolCapacity[],
  runningIn: (poolId: string) => readonly RunningJob[],
  now: number,
  free: (pool: PoolCapacity, node: number) => boolean = () => true,
  endOf: RunEnd = limitEnd,
): Reservation | undefined {
  let best: Reservation | undefined;
  for (const pool of pools) {
    const running = runningIn(pool.pool.id);
    const reservation = reserveIn(pool, job, running, now, (node) => free(pool, node), endOf);
    if (reservation !== undefined && (best === undefined || reservation.untilS < best.untilS))
      best = reservation;
  }
  return best;
}

function reserveIn(
  pool: PoolCapacity,
  job: Job,
  running: readonly RunningJob[],
  now: number,
  free: (node: number) => boolean,
  endAt: RunEnd,
): Reservation | undefined {
  if (!pool.couldEverHold(job.resources)) return undefined;
  const trial = pool.clone();
  const endOf = (run: RunningJob) => endAt(run, now);
  const byEnd = [...running].sort((a, b) => endOf(a) - endOf(b));
  const member = perNode(job.resources);
  const roomy = (node: number) => free(node) && trial.nodeHolds(node, member);
  let roomyCount = 0;
  for (let node = 0; node < trial.nodeCount; node++) if (roomy(node)) roomyCount++;
  let nodes = roomyCount >= job.resources.nodes ? trial.findNodes(job.resources, free) : undefined;
  let untilS = now;
  for (const run of byEnd) {
    if (nodes !== undefined) break;
    // Only nodes this release turns roomy can change the answer; count them, search once.
    const before = run.placement.nodes.filter(roomy).length;
    trial.release(run.job.resources, run.placement.nodes);
    roomyCount += run.placement.nodes.filter(roomy).length - before;
    untilS = endOf(run);
    if (roomyCount >= job.resources.nodes) nodes = trial.findNodes(job.resources, free);
  }
  return nodes === undefined
    ? undefined
    : { jobId: job.id, placement: { poolId: pool.pool.id, nodes }, untilS };
}

/** When a running job is assumed to end, for planning a hold. */
export type RunEnd = (run: RunningJob, now: number) => number;

/** Its declared limit: a job past it is about to be killed, so it counts as ending now. */
export function limitEnd(run: RunningJob, now: number): number {
  return Math.max(now, run.startedAt + run.job.maxRuntimeS);
}

/**
 * When every job running on the nodes of `placement` is gone, by `endOf`. By their limits
 * (the default), the latest start a hold on those nodes can promise, however long the jobs
 * really run.
 */
export function lastEndOn(
  placement: Placement,
  running: readonly RunningJob[],
  now: number,
  endOf: RunEnd = limitEnd,
): number {
  let latest = now;
  for (const run of running) {
    if (run.placement.poolId !== placement.poolId) continue;
    if (run.placement.nodes.some((node) => placement.nodes.includes(node)))
      latest = Math.max(latest, endOf(run, now));
  }
  return latest;
}

/** Whether `candidate` may start on `node` of `poolId` without delaying the reserved job. */
export function respectsReservation(
  reservation: Reservation,
  poolId: string,
  node: number,
  candidate: Job,
  now: number,
  runtimeS: number = candidate.maxRuntimeS,
): boolean {
  if (reservation.placement.poolId !== poolId) return true;
  if (!reservation.placement.nodes.includes(node)) return true;
  return now + runtimeS <= reservation.untilS;
}
