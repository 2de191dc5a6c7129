import type { ClusterCapacity, PoolCapacity } from '../../scheduler/capacity';
import { ClusterBook } from '../../scheduler/cluster-book';
import {
  type ClusterState,
  classOf,
  type Job,
  type Placement,
  type Pool,
  type RunningJob,
  type Team,
} from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PolicySession,
  PreemptJob,
  RoundOptions,
  SchedulingPolicy,
  StartJob,
} from '../../scheduler/policy';
import { BEHIND_HEAD } from './queue-order';

/**
 * Kueue as a team would configure it (https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/,
 * .../preemption/): one ClusterQueue per team, every ClusterQueue in one cohort, one
 * ResourceFlavor per pool (on-demand and spot nodes; taints keep classes off spot as the
 * placement rule does), `nominalQuota` per flavor = the team's quota split over the pools in
 * proportion to their size, no `borrowingLimit` (borrow all idle quota), queueing strategy
 * BestEffortFIFO, preemption `reclaimWithinCohort: Any`, `withinClusterQueue: LowerPriority`,
 * `borrowWithinCohort: Never` (default), flavorFungibility defaults (whenCanBorrow: Borrow,
 * whenCanPreempt: TryNextFlavor). WorkloadPriorityClass values are the class values.
 *
 * Each scheduling cycle takes the head of every ClusterQueue (BestEffortFIFO: priority, then
 * creation time; a workload that cannot be admitted is set aside and the next one becomes
 * head), orders the heads as Kueue does (those that fit without borrowing first, then higher
 * priority, then older), and admits each if its flavor has quota, borrowing from the cohort
 * if need be, and the pods fit on nodes (all pods of a gang at once, as with
 * waitForPodsReady). A head that would be within its nominal quota may preempt borrowed
 * workloads of other ClusterQueues, and any head lower-priority workloads of its own, in
 * Kueue's candidate order: other ClusterQueues first, then lowest priority, then the most
 * recently admitted; the set is then made minimal. Kueue knows no runtimes: no backfill.
 * Workloads with the same shape fail alike, so a cycle sets them aside together.
 */
export class KueuePolicy implements SchedulingPolicy {
  readonly name = 'kueue';

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new KueueSession(state);
  }
}

/** One shape of workload in one ClusterQueue, in queue (requeue) order. */
interface ShapeQueue {
  readonly jobs: Job[];
  head: number;
  readonly priority: number;
}

class ClusterQueue {
  readonly shapes = new Map<string, ShapeQueue>();
  /** GPUs admitted per flavor (pool id). */
  readonly usage = new Map<string, number>();

  constructor(
    readonly team: string,
    readonly nominal: ReadonlyMap<string, number>,
  ) {}

  borrowing(flavor: string, freed = 0): boolean {
    return (this.usage.get(flavor) ?? 0) - freed > (this.nominal.get(flavor) ?? 0);
  }
}

class KueueSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly queues = new Map<string, ClusterQueue>();
  private readonly pendingIds = new Set<string>();

  constructor(state: ClusterState) {
    this.book = new ClusterBook(state);
    const nominal = flavorQuotas(state.pools, state.teams);
    for (const team of state.teams)
      this.queues.set(team.id, new ClusterQueue(team.id, nominal.get(team.id)!));
    for (const job of state.pending) this.submit(job);
  }

  submit(job: Job): void {
    this.pendingIds.add(job.id);
    const queue = this.queueOf(job.team);
    const key = `${classOf(job).value}|${job.preemptible}|${job.resources.gpuType}|${job.resources.gpus}|${job.resources.nodes}|${job.resources.cpus}|${job.resources.memoryMiB}`;
    let shape = queue.shapes.get(key);
    if (shape === undefined) {
      shape = { jobs: [], head: 0, priority: classOf(job).value };
      queue.shapes.set(key, shape);
    }
    shape.jobs.push(job);
  }

  withdraw(jobId: string): void {
    this.pendingIds.delete(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const capacity = this.book.capacity();
    const running = this.book.running();
    for (const queue of this.queues.values()) queue.usage.clear();
    for (const run of running) this.charge(run.job, run.placement.poolId, 1);
    const runningByPool = new Map<string, RunningJob[]>();
    for (const run of running) listIn(runningByPool, run.placement.poolId).push(run);

    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    const preemptions: PreemptJob[] = [];
    let setAside = new Set<ShapeQueue>();
    for (;;) {
      const heads = this.heads(setAside);
      if (heads.length === 0) break;
      heads.sort(
        (a, b) =>
          Number(this.needsBorrowing(a.job, capacity)) - Number(this.needsBorrowing(b.job, capacity)) ||
          b.shape.priority - a.shape.priority ||
          a.job.submitTime - b.job.submitTime,
      );
      for (const { job, shape } of heads) {
        const admitted = this.admit(job, capacity, runningByPool);
        if (admitted === undefined) {
          setAside.add(shape);
          continue;
        }
        shape.head++;
        this.pendingIds.delete(job.id);
        for (const victim of admitted.victims) {
          // Own lower-priority work goes by withinClusterQueue, others' borrowed work by reclaim.
          const reason = victim.job.team === job.team ? 'higher-class' : 'reclaim-quota';
          preemptions.push({ jobId: victim.job.id, forJobId: job.id, reason });
          capacity.release(victim.job.resources, victim.placement);
          this.charge(victim.job, victim.placement.poolId, -1);
          const list = listIn(runningByPool, victim.placement.poolId);
          list.splice(list.indexOf(victim), 1);
        }
        // Freed capacity may admit what was set aside.
        if (admitted.victims.length > 0) setAside = new Set();
        capacity.allocate(job.resources, admitted.placement);
        this.charge(job, admitted.placement.poolId, 1);
        listIn(runningByPool, admitted.placement.poolId).push({
          job,
          placement: admitted.placement,
          startedAt: now,
          lastCheckpointAt: now,
        });
        starts.push({ jobId: job.id, placement: admitted.placement });
        started.set(job.id, job);
      }
    }
    const decision = {
      starts,
      preemptions,
      waiting:
        options.explain === false
          ? []
          : [...this.pendingIds].map((jobId) => ({ jobId, reason: BEHIND_HEAD })),
      usage: this.book.usage,
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }

  /** The head of every ClusterQueue: first by priority, then queue order, among shapes not set aside. */
  private heads(setAside: ReadonlySet<ShapeQueue>): { job: Job; shape: ShapeQueue }[] {
    const heads: { job: Job; shape: ShapeQueue }[] = [];
    for (const queue of this.queues.values()) {
      let best: { job: Job; shape: ShapeQueue } | undefined;
      for (const shape of queue.shapes.values()) {
        if (setAside.has(shape)) continue;
        while (shape.head < shape.jobs.length && !this.pendingIds.has(shape.jobs[shape.head]!.id))
          shape.head++;
        if (shape.head > 256 && shape.head * 2 > shape.jobs.length) {
          shape.jobs.splice(0, shape.head);
          shape.head = 0;
        }
        const job = shape.jobs[shape.head];
        if (job === undefined) continue;
        if (
          best === undefined ||
          shape.priority > best.shape.priority ||
          (shape.priority === best.shape.priority && job.submitTime < best.job.submitTime)
        )
          best = { job, shape };
      }
      if (best !== undefined) heads.push(best);
    }
    return heads;
  }

  private needsBorrowing(job: Job, capacity: ClusterCapacity): boolean {
    const queue = this.queueOf(job.team);
    return !eligiblePools(job, capacity).some(
      (pool) =>
        (queue.usage.get(pool.pool.id) ?? 0) + job.resources.gpus <= (queue.nominal.get(pool.pool.id) ?? 0),
    );
  }

  /** Flavor assignment in order: the first flavor with quota (own or borrowed) and room, else preemption. */
  private admit(
    job: Job,
    capacity: ClusterCapacity,
    runningByPool: ReadonlyMap<string, readonly RunningJob[]>,
  ): { placement: Placement; victims: readonly RunningJob[] } | undefined {
    const queue = this.queueOf(job.team);
    const pools = eligiblePools(job, capacity);
    for (const pool of pools) {
      const flavor = pool.pool.id;
      const withinNominal =
        (queue.usage.get(flavor) ?? 0) + job.resources.gpus <= (queue.nominal.get(flavor) ?? 0);
      if (!withinNominal && !this.cohortHasRoom(flavor, job.resources.gpus)) continue;
      const placement = place(job, [pool]);
      if (placement !== undefined) return { placement, victims: [] };
    }
    for (const pool of pools) {
      const eviction = this.evictionFor(job, pool, runningByPool.get(pool.pool.id) ?? []);
      if (eviction !== undefined) return eviction;
    }
    return undefined;
  }

  private cohortHasRoom(flavor: string, gpus: number): boolean {
    let nominal = 0;
    let used = 0;
    for (const queue of this.queues.values()) {
      nominal += queue.nominal.get(flavor) ?? 0;
      used += queue.usage.get(flavor) ?? 0;
    }
    return used + gpus <= nominal;
  }

  /** Kueue's preemption in one flavor: candidates in Kueue's order, greedy, then minimal. */
  private evictionFor(
    job: Job,
    pool: PoolCapacity,
    running: readonly RunningJob[],
  ): { placement: Placement; victims: readonly RunningJob[] } | undefined {
    const flavor = pool.pool.id;
    const queue = this.queueOf(job.team);
    const priority = classOf(job).value;
    const ownUsage = queue.usage.get(flavor) ?? 0;
    const nominal = queue.nominal.get(flavor) ?? 0;
    const reclaims = ownUsage + job.resources.gpus <= nominal;
    const candidates = running
      .filter((run) =>
        run.job.team === job.team
          ? classOf(run.job).value < priority
          : reclaims && this.queueOf(run.job.team).borrowing(flavor),
      )
      .sort(
        (a, b) =>
          Number(a.job.team === job.team) - Number(b.job.team === job.team) ||
          classOf(a.job).value - classOf(b.job).value ||
          b.startedAt - a.startedAt,
      );
    if (candidates.length === 0) return undefined;
    const trial = pool.clone();
    const freed = new Map<string, number>();
    const chosen: RunningJob[] = [];
    const fits = () => {
      const own = ownUsage - (freed.get(job.team) ?? 0) + job.resources.gpus;
      const quotaOk = reclaims ? own <= nominal : this.cohortHasRoomAfter(flavor, job.resources.gpus, freed);
      return quotaOk && trial.findNodes(job.resources) !== undefined;
    };
    for (const run of candidates) {
      if (fits()) break;
      const team = run.job.team;
      if (team !== job.team && !this.queueOf(team).borrowing(flavor, freed.get(team) ?? 0)) continue;
      trial.release(run.job.resources, run.placement.nodes);
      freed.set(team, (freed.get(team) ?? 0) + run.job.resources.gpus);
      chosen.push(run);
    }
    if (!fits()) return undefined;
    const victims: RunningJob[] = [];
    for (const run of [...chosen].reverse()) {
      trial.allocate(run.job.resources, run.placement.nodes);
      freed.set(run.job.team, (freed.get(run.job.team) ?? 0) - run.job.resources.gpus);
      if (!fits()) {
        trial.release(run.job.resources, run.placement.nodes);
        freed.set(run.job.team, (freed.get(run.job.team) ?? 0) + run.job.resources.gpus);
        victims.push(run);
      }
    }
    const nodes = trial.findNodes(job.resources);
    return nodes === undefined ? undefined : { placement: { poolId: flavor, nodes }, victims };
  }

  private cohortHasRoomAfter(flavor: string, gpus: number, freed: ReadonlyMap<string, number>): boolean {
    let released = 0;
    for (const amount of freed.values()) released += amount;
    return this.cohortHasRoom(flavor, gpus - released);
  }

  private charge(job: Job, flavor: string, sign: number): void {
    const queue = this.queueOf(job.team);
    queue.usage.set(flavor, (queue.usage.get(flavor) ?? 0) + sign * job.resources.gpus);
  }

  private queueOf(team: string): ClusterQueue {
    let queue = this.queues.get(team);
    if (queue === undefined) {
      // A team without a ClusterQueue of its own gets one with no nominal quota.
      queue = new ClusterQueue(team, new Map());
      this.queues.set(team, queue);
    }
    return queue;
  }
}

function listIn<T>(map: Map<string, T[]>, key: string): T[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}

/**
 * Each team's nominal quota per flavor: its quota of a GPU type split over that type's pools
 * in proportion to their GPUs, by largest remainder so every pool's quotas add up.
 */
export function flavorQuotas(
  pools: readonly Pool[],
  teams: readonly Team[],
): Map<string, Map<string, number>> {
  const quotas = new Map(teams.map((team) => [team.id, new Map<string, number>()]));
  const byType = new Map<string, Pool[]>();
  for (const pool of pools) listIn(byType, pool.gpuType).push(pool);
  for (const [gpuType, typePools] of byType) {
    const typeGpus = typePools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
    for (const team of teams) {
      const quota = team.nominalQuota[gpuType] ?? 0;
      const exact = typePools.map((pool) =>
        typeGpus > 0 ? (quota * pool.node.gpus * pool.nodeCount) / typeGpus : 0,
      );
      const floors = exact.map(Math.floor);
      let left = quota - floors.reduce((sum, value) => sum + value, 0);
      const order = exact
        .map((value, index) => ({ index, rest: value - Math.floor(value) }))
        .sort((a, b) => b.rest - a.rest);
      for (const { index } of order) {
        if (left <= 0) break;
        floors[index]!++;
        left--;
      }
      for (const [index, pool] of typePools.entries()) quotas.get(team.id)!.set(pool.id, floors[index]!);
    }
  }
  return quotas;
}
