import { ClusterCapacity, type PoolCapacity } from '../capacity';
import type { ClusterState, Job, Placement, RunningJob, UsageLedger } from '../model';
import { eligiblePools, place } from '../placement';
import type { Decision, PendingReason, PreemptJob, Reservation, StartJob, WaitingJob } from '../policy';
import { NO_RESOURCES, type Resources, addResources, scaleResources } from '../resources';
import type { DecayedUsage } from '../usage';
import { FairShare } from './fair-share';
import {
  byPreference,
  type Eviction,
  evictionIn,
  type PreemptionRules,
  restartCostGpuS,
  totalCost,
  type Victim,
  victimReason,
} from './preemption';
import { PendingQueues } from './queues';
import { QuotaLedger } from './quota';
import { reserveEarliest, respectsReservation } from './reservation';
import { WhyPending } from './why-pending';

export interface DrivetrainConfig {
  /** Waiting this long lifts a job one priority band (see `bandOf`). */
  readonly agingStepS: number;
  /** Half-life of the usage history behind fair share. */
  readonly usageHalfLifeS: number;
  /** Churn cap: at most this many jobs are preempted in one round. */
  readonly maxPreemptionsPerRound: number;
  readonly preemption: PreemptionRules;
  /**
   * Jobs that fail to start, per team and band, before the round moves on. Bounds the
   * backfill scan so a round stays cheap with 100,000 jobs queued.
   */
  readonly backfillDepth: number;
}

/** One dispatch round: mutable working state, thrown away once the decision is made. */
export class DispatchRound {
  private readonly capacity: ClusterCapacity;
  private readonly quota: QuotaLedger;
  private readonly fairShare: FairShare;
  private readonly why: WhyPending;
  /** Everything running in each pool, including this round's starts (for reservations). */
  private readonly runningByPool = new Map<string, RunningJob[]>();
  private readonly starts: StartJob[] = [];
  private readonly preemptions: PreemptJob[] = [];
  private readonly preempted = new Set<string>();
  private readonly waiting: WaitingJob[] = [];
  /** Outcomes of job shapes that could not start; valid until capacity changes hands. */
  private readonly failedShapes = new Map<string, PendingReason>();
  private reservation: Reservation | undefined;
  /** Highest band in which a job was left waiting. */
  private blockedBand = -1;

  constructor(
    private readonly state: ClusterState,
    private readonly usage: UsageLedger,
    private readonly now: number,
    private readonly config: DrivetrainConfig,
    decay: DecayedUsage,
  ) {
    this.capacity = ClusterCapacity.of(state.pools, state.running);
    this.quota = new QuotaLedger(state.teams, state.running);
    this.fairShare = new FairShare(state.teams, state.running, usage, decay, clusterTotal(state));
    this.why = new WhyPending(this.quota);
    for (const run of state.running) this.runningIn(run.placement.poolId).push(run);
  }

  decide(): Decision {
    const queues = new PendingQueues(this.state.pending, this.now, this.config.agingStepS);
    for (const band of queues.bandsFromTop()) {
      const teams = queues.queuesIn(band);
      const active = new Set([...teams.keys()].filter((team) => (teams.get(team)?.size ?? 0) > 0));
      const misses = new Map<string, number>();
      while (active.size > 0 && !this.exhausted()) {
        const team = this.fairShare.neediest(active)!;
        const queue = teams.get(team)!;
        const job = queue.pop()!;
        if (!this.tryStart(job, band)) misses.set(team, (misses.get(team) ?? 0) + 1);
        if (queue.size === 0 || (misses.get(team) ?? 0) >= this.config.backfillDepth) active.delete(team);
      }
      for (const queue of teams.values()) for (const job of queue.remaining()) this.leaveUnscanned(job, band);
    }
    return {
      starts: this.starts,
      preemptions: this.preemptions,
      waiting: this.waiting,
      usage: this.usage,
      ...(this.reservation && { reservation: this.reservation }),
    };
  }

  /** Nothing more can start this round: no free GPU anywhere and no preemption left to spend. */
  private exhausted(): boolean {
    return this.preemptions.length >= this.config.maxPreemptionsPerRound && !this.capacity.hasFreeGpus();
  }

  private tryStart(job: Job, band: number): boolean {
    const pools = eligiblePools(job, this.capacity);
    if (!pools.some((pool) => pool.couldEverHold(job.resources))) {
      this.leaveWaiting(job, band, this.why.unschedulable(job));
      return false;
    }
    const shape = shapeKey(job);
    const knownFailure = this.failedShapes.get(shape);
    if (knownFailure !== undefined) {
      this.leaveWaiting(job, band, knownFailure);
      return false;
    }
    const placement = place(job, pools, (pool, node) => this.mayUse(pool, node, job));
    if (placement !== undefined) {
      this.start(job, placement);
      return true;
    }
    const eviction = this.cheapestEviction(job, pools);
    if (eviction !== undefined) {
      for (const victim of eviction.victims) this.preempt(victim, job);
      this.start(job, eviction.placement);
      return true;
    }
    const reason = this.failureReason(job, pools);
    this.failedShapes.set(shape, reason);
    this.leaveWaiting(job, band, reason);
    return false;
  }

  private failureReason(job: Job, pools: readonly PoolCapacity[]): PendingReason {
    if (this.reservation !== undefined && place(job, pools) !== undefined) {
      return this.why.heldForGang(this.reservation);
    }
    // EASY: the first job that cannot start holds the nodes it can get earliest.
    this.reservation ??= reserveEarliest(job, pools, (poolId) => this.runningIn(poolId), this.now);
    if (!this.quota.fitsQuota(job.team, job.resources.gpuType, job.resources.gpus)) {
      return this.why.quotaExhausted(job);
    }
    return this.starts.length > 0 ? this.why.outranked(job) : this.why.noCapacity(job);
  }

  private cheapestEviction(job: Job, pools: readonly PoolCapacity[]): Eviction | undefined {
    const budget = this.config.maxPreemptionsPerRound - this.preemptions.length;
    if (budget <= 0) return undefined;
    let best: Eviction | undefined;
    for (const pool of pools) {
      const candidates = this.victimsFor(job, pool.pool.id);
      if (candidates.length === 0) continue;
      const usable = (node: number) => this.mayUse(pool, node, job);
      const eviction = evictionIn(pool, job, candidates, this.quota, budget, usable);
      if (eviction !== undefined && (best === undefined || totalCost(eviction) < totalCost(best))) best = eviction;
    }
    return best;
  }

  private victimsFor(job: Job, poolId: string): Victim[] {
    const victims: Victim[] = [];
    for (const running of this.state.running) {
      if (running.placement.poolId !== poolId || this.preempted.has(running.job.id)) continue;
      const reason = victimReason(running, job, this.quota, this.now, this.config.preemption);
      if (reason !== undefined) {
        victims.push({ running, reason, costGpuS: restartCostGpuS(running, this.now, this.config.preemption) });
      }
    }
    return victims.sort(byPreference);
  }

  private mayUse(pool: PoolCapacity, node: number, job: Job): boolean {
    return respectsReservation(this.reservation, pool.pool.id, node, job, this.now);
  }

  private start(job: Job, placement: Placement): void {
    this.capacity.allocate(job.resources, placement);
    this.quota.add(job.team, job.resources.gpuType, job.resources.gpus);
    this.fairShare.charge(job.team, job.resources);
    this.runningIn(placement.poolId).push({ job, placement, startedAt: this.now, lastCheckpointAt: this.now });
    this.starts.push({ jobId: job.id, placement });
    this.failedShapes.clear();
  }

  private preempt(victim: Victim, forJob: Job): void {
    const { job, placement } = victim.running;
    this.capacity.release(job.resources, placement);
    this.quota.add(job.team, job.resources.gpuType, -job.resources.gpus);
    this.fairShare.refund(job.team, job.resources);
    const pool = this.runningIn(placement.poolId);
    pool.splice(pool.indexOf(victim.running), 1);
    this.preempted.add(job.id);
    this.preemptions.push({ jobId: job.id, forJobId: forJob.id, reason: victim.reason });
    this.failedShapes.clear();
  }

  private leaveWaiting(job: Job, band: number, reason: PendingReason): void {
    this.blockedBand = Math.max(this.blockedBand, band);
    this.waiting.push({ jobId: job.id, reason });
  }

  /** Jobs the scan never reached get the reason that stopped the scan before them. */
  private leaveUnscanned(job: Job, band: number): void {
    let reason: PendingReason;
    if (this.blockedBand > band) reason = this.why.behindHigherClass();
    else if (!this.quota.fitsQuota(job.team, job.resources.gpuType, job.resources.gpus)) {
      reason = this.why.quotaExhausted(job);
    } else reason = this.starts.length > 0 ? this.why.outranked(job) : this.why.noCapacity(job);
    this.leaveWaiting(job, band, reason);
  }

  private runningIn(poolId: string): RunningJob[] {
    let running = this.runningByPool.get(poolId);
    if (running === undefined) {
      running = [];
      this.runningByPool.set(poolId, running);
    }
    return running;
  }
}

/** Jobs with the same key get the same answer from the same capacity. */
function shapeKey(job: Job): string {
  const { gpuType, gpus, nodes, cpus, memoryMiB } = job.resources;
  return `${job.team}|${job.priorityClass}|${job.preemptible}|${gpuType}|${gpus}|${nodes}|${cpus}|${memoryMiB}|${job.maxRuntimeS}`;
}

function clusterTotal(state: ClusterState): Resources {
  return state.pools.reduce<Resources>(
    (total, pool) => addResources(total, scaleResources(pool.node, pool.nodeCount)),
    NO_RESOURCES,
  );
}
