import type { ClusterCapacity, PoolCapacity } from '../capacity';
import {
  classOf,
  isPreemptible,
  type Job,
  type Placement,
  type Pool,
  type RunningJob,
  type Team,
  type UsageLedger,
} from '../model';
import { eligiblePools, place } from '../placement';
import type { Decision, PendingReason, PreemptJob, Reservation, StartJob, WaitingJob } from '../policy';
import type { DecayedUsage } from '../usage';
import { FairShare, type ResourceDimensions } from './fair-share';
import { bandOf, type PendingIndex, TOP_BAND, waitingSince } from './pending-index';
import {
  type Eviction,
  evictionIn,
  type PreemptionRules,
  totalCost,
  type Victim,
  VictimCatalog,
} from './preemption';
import { QuotaLedger } from './quota';
import { lastEndOn, limitEnd, reserveEarliest, respectsReservation } from './reservation';
import { ReservationProfile } from './reservation-profile';
import type { PredictionKey, RuntimePredictor } from './runtime-prediction';
import { UnscannedReasons } from './unscanned-reasons';
import { WhyPending } from './why-pending';

export interface DrivetrainConfig {
  /** Waiting this long takes a job one service level back, within its class (see `agedLevel`). */
  readonly agingStepS: number;
  /** Half-life of the usage history behind fair share. */
  readonly usageHalfLifeS: number;
  /** Churn cap: at most this many jobs are preempted in one round. */
  readonly maxPreemptionsPerRound: number;
  readonly preemption: PreemptionRules;
  /**
   * Bounds on the backfill scan, so a round stays cheap with 100,000 jobs queued (Slurm's
   * bf_max_job_test and bf_max_job_user_part play the same part): jobs whose placement was
   * tried and failed, per team and band and in the whole round, and jobs looked at in all
   * (a job whose shape already failed this round costs a lookup, not a placement search).
   */
  readonly backfillDepth: {
    readonly perTeamAndBand: number;
    readonly perRound: number;
    readonly scanPerTeamAndBand: number;
    readonly scanPerRound: number;
  };
  /**
   * No starvation: the oldest jobs pending longer than `boundS` (over all their attempts) go
   * first, whatever their class and their team's share, and one that cannot start holds the
   * nodes it can have earliest, which no other job may take for longer than that. Up to
   * `maxReservations` such holds exist at a time; each is kept from round to round until its
   * job starts. Other starving jobs wait their turn for a hold in their own class. Once started, a starving job is preempted
   * only to give a lender back its quota.
   */
  readonly starvation: {
    readonly boundS: number;
    readonly maxReservations: number;
    /**
     * Within each class, jobs past `boundS` are tried before the fair-share order, oldest
     * first (within the class's scan budget: `backfillDepth.scanPerTeamAndBand` looked at,
     * `perTeamAndBand` placements failed). Without it, a starving job beyond the held ones
     * waits in its team's turn, and the team that has used most (the one whose jobs starve)
     * comes last in every round, so freed capacity goes to others' fresh work until a hold
     * is free. Trying it first costs no capacity: it starts only where it fits now.
     */
    readonly firstInClass?: boolean;
    /**
     * Conservative backfill for the starving queue (`ReservationProfile`): after the held
     * jobs, up to this many more jobs past `boundS`, class by class and oldest first, start
     * now if they delay no planned start, or else get a planned start of their own that no
     * later job may delay. Undefined: only the `maxReservations` holds.
     */
    readonly plannedPerRound?: number;
    /**
     * Starts are planned only this far ahead (Slurm's `bf_window`, a day by default): with
     * coarse limits, plans further out mostly keep short jobs off nodes that free far sooner.
     * Undefined: any start.
     */
    readonly planWindowS?: number;
    /**
     * A job past `boundS` may stop as many jobs as it needs (up to `maxPreemptionsPerRound`),
     * as one past `preemption.patienceS` may: clearing a node usually takes more than
     * `preemption.impatientVictims`.
     */
    readonly patientPastBound?: boolean;
  };
  /**
   * How holds are planned when run times are predicted (`RoundInputs.predictor`): `limits`
   * as without predictions; `placed`: on the nodes expected to free first, with the start
   * their jobs' limits guarantee, and backfill judged by limits; `predicted`: the hold's time
   * and every backfill on held nodes are judged by predicted run times; `both`: placed as
   * `placed`, and a backfill must be expected to end before the predicted start and be sure
   * to end (by its limit) before the guaranteed one.
   */
  readonly holdPlanning?: {
    readonly easy: HoldPlanning;
    /** Never `predicted`: a starving job's hold must start by its guaranteed time. */
    readonly starving: Exclude<HoldPlanning, 'predicted'>;
    /** Whose ended jobs predict a job's run time (`RuntimePredictor`). */
    readonly submitter?: PredictionKey;
  };
}

export type HoldPlanning = 'limits' | 'placed' | 'predicted' | 'both';

/** What a round starts from. The round spends `capacity` and pops from `pending`. */
export interface RoundInputs {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  readonly running: readonly RunningJob[];
  readonly capacity: ClusterCapacity;
  readonly pending: PendingIndex;
  /** Already advanced to `now`. */
  readonly usage: UsageLedger;
  readonly dimensions: ResourceDimensions;
  /** Last round's holds of jobs still pending (`ClusterState.carriedHolds`). */
  readonly carriedHolds?: readonly Reservation[];
  /** Run-time predictions for planning holds; without it holds go by declared limits. */
  readonly predictor?: RuntimePredictor;
}

/** Nodes held for a waiting job; a starvation hold binds every job, an EASY hold may yield. */
interface Hold {
  readonly reservation: Reservation;
  /** What decides whether a job that may preempt need respect the hold. */
  readonly holder: Pick<Job, 'priorityClass' | 'preemptible'> | undefined;
  readonly starving: boolean;
}

/**
 * One dispatch round: mutable working state, thrown away once the decision is made. Jobs
 * that stay pending go back into the index; started jobs are listed in `started`.
 */
export class DispatchRound {
  readonly started = new Map<string, Job>();
  private readonly capacity: ClusterCapacity;
  private readonly quota: QuotaLedger;
  private readonly fairShare: FairShare;
  private readonly why: WhyPending;
  private victimCatalog: VictimCatalog | undefined;
  /** Everything running in each pool, including this round's starts (for reservations). */
  private readonly runningByPool = new Map<string, RunningJob[]>();
  private readonly starts: StartJob[] = [];
  private readonly preemptions: PreemptJob[] = [];
  private readonly waiting: WaitingJob[] = [];
  /**
   * Outcomes of job shapes that could not start. Starts only take capacity away, so these
   * hold until a preemption frees some.
   */
  private readonly failedShapes = new Map<string, PendingReason>();
  private readonly holds: Hold[] = [];
  private easyHoldTaken = false;
  /** Planned starts of the starving queue, with `starvation.plannedPerRound`. */
  private profile: ReservationProfile | undefined;
  /** Jobs whose placement was searched for and failed, and jobs looked at in all. */
  private failures = 0;
  private scanned = 0;
  /** Highest band in which a job was left waiting. */
  private blockedBand = -1;

  constructor(
    private readonly inputs: RoundInputs,
    private readonly now: number,
    private readonly config: DrivetrainConfig,
    decay: DecayedUsage,
  ) {
    this.capacity = inputs.capacity;
    this.quota = new QuotaLedger(inputs.teams, inputs.running);
    this.fairShare = new FairShare(inputs.teams, inputs.running, inputs.usage, decay, inputs.dimensions);
    this.why = new WhyPending(this.quota);
    for (const run of inputs.running) this.runningIn(run.placement.poolId).push(run);
    this.carryHolds(inputs.carriedHolds ?? []);
  }

  /**
   * A held job keeps its hold: were holds made afresh each round, a hold missed once (a
   * preempted older job took its place, starvation holds took its nodes) lets other work onto
   * its nodes, and its start slips past the time it was promised. A hold on nodes that no
   * longer exist is dropped.
   */
  private carryHolds(carried: readonly Reservation[]): void {
    for (const reservation of carried) {
      const starving = reservation.starving === true;
      if (starving ? !this.mayHoldStarving() : this.easyHoldTaken) continue;
      const { poolId, nodes } = reservation.placement;
      const pool = this.inputs.pools.find((candidate) => candidate.id === poolId);
      if (pool === undefined || nodes.some((node) => node >= pool.nodeCount)) continue;
      if (nodes.some((node) => this.isHeld(poolId, node))) continue;
      const planning = this.planning(starving);
      // A predicted start is no promise: an EASY hold planned from predictions is planned
      // afresh each round (as EASY does), and a starving one's expected start is brought up
      // to date (predictions of its nodes' jobs extend as they outlive them).
      if (planning !== 'limits' && planning !== 'placed' && !starving) continue;
      this.holds.push({
        reservation: this.refreshed(reservation, planning),
        holder: reservation.holder,
        starving,
      });
      this.easyHoldTaken ||= !starving;
    }
  }

  private refreshed(reservation: Reservation, planning: HoldPlanning): Reservation {
    const predictor = this.inputs.predictor;
    if (planning === 'limits' || planning === 'placed' || predictor === undefined) return reservation;
    const running = this.runningIn(reservation.placement.poolId);
    const expectedS = lastEndOn(reservation.placement, running, this.now, (run, now) =>
      predictor.expectedEnd(run, now),
    );
    return planning === 'predicted' ? { ...reservation, untilS: expectedS } : { ...reservation, expectedS };
  }

  decide(explain: boolean): Decision {
    const { pending } = this.inputs;
    const leftWaiting: Job[] = [];
    const { boundS } = this.config.starvation;
    // The oldest starving jobs first: each starts now or holds its earliest nodes, until
    // `maxReservations` jobs hold nodes and every job that held nodes last round was tried
    // (looking at no more jobs than one team's scan budget). Other starving jobs keep their
    // class: a fresh job of a higher class goes before them.
    const scanLimit = this.config.backfillDepth.scanPerTeamAndBand;
    let carriedLeft = this.holds.filter((hold) => hold.starving).length;
    for (let tried = 0; tried < scanLimit && (carriedLeft > 0 || this.mayHoldStarving()); tried++) {
      const job = pending.takeOldest(this.now, boundS);
      if (job === undefined) break;
      const carried = this.dropHold(job.id);
      if (carried?.starving) carriedLeft--;
      if (this.tryStart(job, bandOf(job), true)) continue;
      leftWaiting.push(job);
      // A new hold replaces the carried one only if it starts the job no later.
      const renewed = this.dropHold(job.id);
      const kept =
        carried === undefined ||
        (renewed !== undefined && renewed.reservation.untilS <= carried.reservation.untilS)
          ? renewed
          : carried;
      if (kept !== undefined) this.holds.push(kept);
    }
    this.planStarving(leftWaiting);
    for (let band = TOP_BAND; band >= 0 && !this.exhausted(); band--) {
      if (this.config.starvation.firstInClass === true) this.starvingFirst(band, leftWaiting);
      const active = new Set(pending.teamsIn(band));
      const misses = new Map<string, number>();
      const looked = new Map<string, number>();
      while (active.size > 0 && !this.exhausted()) {
        const team = this.fairShare.neediest(active)!;
        const job = pending.takeNext(team, band, this.now);
        if (job === undefined) {
          active.delete(team);
          continue;
        }
        this.scanned++;
        const failuresBefore = this.failures;
        const depth = this.config.backfillDepth;
        if (this.tryStart(job, band, false)) continue;
        leftWaiting.push(job);
        // A placement really searched for spends the team's failure budget; one answered from
        // the cache only its (larger) scan budget, so one team's backlog cannot use up the round.
        const seen = (looked.get(team) ?? 0) + 1;
        looked.set(team, seen);
        if (seen >= depth.scanPerTeamAndBand) active.delete(team);
        if (this.failures === failuresBefore) continue;
        misses.set(team, (misses.get(team) ?? 0) + 1);
        if ((misses.get(team) ?? 0) >= depth.perTeamAndBand) active.delete(team);
      }
    }
    if (explain) {
      // Jobs the scan never reached get the reason that stopped the scan before them.
      const unscanned = new UnscannedReasons(this.why, this.quota, this.starts.length > 0);
      pending.forEachPending((job, band) =>
        this.leaveWaiting(job, band, unscanned.of(job, this.blockedBand > band)),
      );
    }
    for (const job of leftWaiting) pending.requeue(job);
    const reservations = this.holds.map((hold) => hold.reservation);
    const carriedHolds = this.holds.map(({ reservation, holder, starving }) =>
      starving
        ? { ...reservation, starving }
        : {
            ...reservation,
            ...(holder && {
              holder: { priorityClass: holder.priorityClass, preemptible: holder.preemptible },
            }),
          },
    );
    return {
      starts: this.starts,
      preemptions: this.preemptions,
      waiting: this.waiting,
      usage: this.inputs.usage,
      ...(reservations.length > 0 && { reservation: reservations[0], reservations }),
      ...(carriedHolds.length > 0 && { carriedHolds }),
    };
  }

  /** Jobs of `band` past the starvation bound, oldest first (`starvation.firstInClass`). */
  private starvingFirst(band: number, leftWaiting: Job[]): void {
    const depth = this.config.backfillDepth;
    let looked = 0;
    let misses = 0;
    while (looked < depth.scanPerTeamAndBand && misses < depth.perTeamAndBand && !this.exhausted()) {
      const job = this.inputs.pending.takeOldest(this.now, this.config.starvation.boundS, band);
      if (job === undefined) return;
      looked++;
      this.scanned++;
      const failuresBefore = this.failures;
      if (this.tryStart(job, band, false)) continue;
      leftWaiting.push(job);
      if (this.failures !== failuresBefore) misses++;
    }
  }

  /**
   * `starvation.plannedPerRound`: the starving jobs after the held ones, class by class and
   * oldest first, start now around every planned start or get one of their own.
   */
  private planStarving(leftWaiting: Job[]): void {
    const limit = this.config.starvation.plannedPerRound;
    if (limit === undefined || limit <= 0) return;
    const profile = new ReservationProfile(
      this.capacity.pools,
      [...this.runningByPool.values()].flat(),
      this.now,
      (poolId, node) => this.isHeld(poolId, node),
    );
    this.profile = profile;
    const { boundS } = this.config.starvation;
    let looked = 0;
    const failed = new Set<string>();
    for (let band = TOP_BAND; band >= 0 && looked < limit; band--) {
      while (looked < limit) {
        const job = this.inputs.pending.takeOldest(this.now, boundS, band);
        if (job === undefined) break;
        looked++;
        const pools = eligiblePools(job, this.capacity);
        if (!pools.some((pool) => pool.couldEverHold(job.resources))) {
          leftWaiting.push(job);
          this.leaveWaiting(job, band, this.why.unschedulable(job));
          continue;
        }
        // Starts and plans only take capacity away, so a shape that failed stays failed
        // until a preemption frees some.
        const shape = `${this.preemptions.length}|${this.victimCap(job)}|${job.maxRuntimeS}|${this.shapeKey(job)}`;
        if (!failed.has(shape)) {
          const placement = place(job, pools, (pool, node) => this.mayUse(pool, node, job, false));
          if (placement !== undefined) {
            this.start(job, placement);
            continue;
          }
          const eviction = this.cheapestEviction(job, pools);
          if (eviction !== undefined) {
            for (const victim of eviction.victims) this.preempt(victim, job);
            this.start(job, eviction.placement);
            continue;
          }
          failed.add(shape);
        }
        profile.plan(job, pools, this.now + (this.config.starvation.planWindowS ?? Number.POSITIVE_INFINITY));
        leftWaiting.push(job);
        this.leaveWaiting(job, band, this.blockedReason(job));
      }
    }
  }

  private mayHoldStarving(): boolean {
    return this.holds.filter((hold) => hold.starving).length < this.config.starvation.maxReservations;
  }

  /** Removes and returns the job's hold, if it has one. */
  private dropHold(jobId: string): Hold | undefined {
    const index = this.holds.findIndex((hold) => hold.reservation.jobId === jobId);
    return index < 0 ? undefined : this.holds.splice(index, 1)[0];
  }

  /** Stop scanning: the backfill budget is spent, or nothing more can start this round. */
  private exhausted(): boolean {
    const depth = this.config.backfillDepth;
    if (this.failures >= depth.perRound || this.scanned >= depth.scanPerRound) return true;
    if (this.capacity.hasRoom()) return false;
    return this.preemptions.length >= this.config.maxPreemptionsPerRound || this.victims.isEmpty;
  }

  private tryStart(job: Job, band: number, starving: boolean): boolean {
    const pools = eligiblePools(job, this.capacity);
    if (!pools.some((pool) => pool.couldEverHold(job.resources))) {
      this.leaveWaiting(job, band, this.why.unschedulable(job));
      return false;
    }
    // A starving job that may still get a hold is never answered from the cache.
    const shape = starving && this.mayHoldStarving() ? undefined : this.shapeKey(job);
    const knownFailure = shape === undefined ? undefined : this.failedShapes.get(shape);
    if (knownFailure !== undefined) {
      this.leaveWaiting(job, band, knownFailure);
      return false;
    }
    const placement = place(job, pools, (pool, node) => this.mayUse(pool, node, job, false));
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
    const reason = this.failureReason(job, pools, starving);
    if (shape !== undefined) {
      this.failures++;
      this.failedShapes.set(shape, reason);
    }
    this.leaveWaiting(job, band, reason);
    return false;
  }

  private failureReason(job: Job, pools: readonly PoolCapacity[], starving: boolean): PendingReason {
    const blockingHold = this.holds[0];
    if (!starving && blockingHold !== undefined && place(job, pools) !== undefined) {
      return this.why.heldForGang(blockingHold.reservation);
    }
    // EASY: the first other job that cannot start holds the nodes it can get earliest too.
    const holdsAlready = this.holds.some((hold) => hold.reservation.jobId === job.id);
    if (!holdsAlready && (starving ? this.mayHoldStarving() : !this.easyHoldTaken)) {
      this.easyHoldTaken ||= !starving;
      const free = (pool: PoolCapacity, node: number) =>
        !this.isHeld(pool.pool.id, node) && this.profile?.isPlanned(pool.pool.id, node) !== true;
      const reservation = this.planHold(job, pools, free, starving);
      if (reservation !== undefined) this.holds.push({ reservation, holder: job, starving });
    }
    return this.blockedReason(job);
  }

  private blockedReason(job: Job): PendingReason {
    if (!this.quota.fitsQuota(job.team, job.resources.gpuType, job.resources.gpus)) {
      return this.why.quotaExhausted(job);
    }
    return this.starts.length > 0 ? this.why.outranked(job) : this.why.noCapacity(job);
  }

  private cheapestEviction(job: Job, pools: readonly PoolCapacity[]): Eviction | undefined {
    const budget = this.victimCap(job) - this.preemptions.length;
    if (budget <= 0) return undefined;
    return (
      this.evictionAmong(job, pools, budget, false) ??
      // A reclaim whose lenders' borrowed jobs free no node it fits takes their other work.
      this.evictionAmong(job, pools, budget, true)
    );
  }

  /** A job that has not yet waited out its patience may only take what is cheap to free. */
  private victimCap(job: Job): number {
    const { patienceS, patienceByClassS, impatientVictims } = this.config.preemption;
    const waitedS = this.now - waitingSince(job);
    const { boundS, patientPastBound } = this.config.starvation;
    const patient =
      waitedS >= (patienceByClassS?.[job.priorityClass] ?? patienceS) ||
      (patientPastBound === true && waitedS >= boundS);
    return patient ? this.config.maxPreemptionsPerRound : impatientVictims;
  }

  private evictionAmong(
    job: Job,
    pools: readonly PoolCapacity[],
    budget: number,
    unpacked: boolean,
  ): Eviction | undefined {
    let best: Eviction | undefined;
    for (const pool of pools) {
      const candidates = this.victims.for(job, pool.pool.id, unpacked);
      const freeable = candidates.reduce((sum, victim) => sum + victim.running.job.resources.gpus, 0);
      if (freeable + pool.totalFreeGpus() < job.resources.gpus) continue;
      const usable = (node: number) => this.mayUse(pool, node, job, true);
      const eviction = evictionIn(pool, job, candidates, this.quota, budget, usable);
      if (eviction !== undefined && (best === undefined || totalCost(eviction) < totalCost(best)))
        best = eviction;
    }
    return best;
  }

  /**
   * Jobs with the same key get the same answer from the same capacity. The team matters
   * through quota (reclaim rights) and through the work a class may preempt (its own team's,
   * or borrowed), the max runtime only through a reservation.
   */
  private shapeKey(job: Job): string {
    const { gpuType, gpus, nodes, cpus, memoryMiB } = job.resources;
    const reclaims = this.quota.fitsQuota(job.team, gpuType, gpus);
    const runtime = this.holds.length === 0 ? '' : job.maxRuntimeS;
    // A holder may use its own held nodes, so a twin's failure says nothing about it.
    const holder = this.holds.some(({ reservation }) => reservation.jobId === job.id) ? job.id : '';
    return `${job.team}|${reclaims}|${job.priorityClass}|${job.preemptible}|${gpuType}|${gpus}|${nodes}|${cpus}|${memoryMiB}|${runtime}|${holder}`;
  }

  /**
   * Whether `job` may take `node` without delaying a held job. With `evicting`, an EASY hold
   * by a job that this one may preempt anyway does not bind it; a starvation hold binds all.
   */
  private mayUse(pool: PoolCapacity, node: number, job: Job, evicting: boolean): boolean {
    if (this.profile !== undefined && !this.profile.permits(pool.pool.id, node, job, this.now)) return false;
    for (const { reservation, holder, starving } of this.holds) {
      if (reservation.jobId === job.id) continue;
      if (evicting && !starving && holder !== undefined && outranksPreemptible(job, holder)) continue;
      const respected =
        this.inputs.predictor === undefined
          ? respectsReservation(reservation, pool.pool.id, node, job, this.now)
          : this.respects(reservation, starving, pool.pool.id, node, job);
      if (!respected) return false;
    }
    return true;
  }

  private planning(starving: boolean): HoldPlanning {
    const planning = this.config.holdPlanning;
    if (planning === undefined || this.inputs.predictor === undefined) return 'limits';
    return starving ? planning.starving : planning.easy;
  }

  private planHold(
    job: Job,
    pools: readonly PoolCapacity[],
    free: (pool: PoolCapacity, node: number) => boolean,
    starving: boolean,
  ): Reservation | undefined {
    const planning = this.planning(starving);
    const predictor = this.inputs.predictor;
    const runningIn = (poolId: string) => this.runningIn(poolId);
    if (planning === 'limits' || predictor === undefined)
      return reserveEarliest(job, pools, runningIn, this.now, free, limitEnd);
    const expected = reserveEarliest(job, pools, runningIn, this.now, free, (run, now) =>
      predictor.expectedEnd(run, now),
    );
    if (expected === undefined || planning === 'predicted') return expected;
    const untilS = lastEndOn(expected.placement, runningIn(expected.placement.poolId), this.now);
    return planning === 'placed'
      ? { ...expected, untilS }
      : { ...expected, untilS, expectedS: expected.untilS };
  }

  private respects(
    reservation: Reservation,
    starving: boolean,
    poolId: string,
    node: number,
    job: Job,
  ): boolean {
    const planning = this.planning(starving);
    const predictor = this.inputs.predictor;
    if (planning === 'limits' || planning === 'placed' || predictor === undefined)
      return respectsReservation(reservation, poolId, node, job, this.now);
    const { placement } = reservation;
    // Most nodes are not held: answer those before predicting anything.
    if (placement.poolId !== poolId || !placement.nodes.includes(node)) return true;
    const predictedS = predictor.predictedRuntime(job);
    if (planning === 'predicted') return this.now + predictedS <= reservation.untilS;
    return (
      this.now + job.maxRuntimeS <= reservation.untilS &&
      this.now + predictedS <= (reservation.expectedS ?? reservation.untilS)
    );
  }

  private isHeld(poolId: string, node: number): boolean {
    return this.holds.some(
      ({ reservation }) =>
        reservation.placement.poolId === poolId && reservation.placement.nodes.includes(node),
    );
  }

  private start(job: Job, placement: Placement): void {
    this.dropHold(job.id);
    this.capacity.allocate(job.resources, placement);
    this.quota.add(job.team, job.resources.gpuType, job.resources.gpus);
    this.fairShare.charge(job.team, job.resources);
    this.runningIn(placement.poolId).push({
      job,
      placement,
      startedAt: this.now,
      lastCheckpointAt: this.now,
    });
    this.starts.push({ jobId: job.id, placement });
    this.started.set(job.id, job);
  }

  private preempt(victim: Victim, forJob: Job): void {
    const { job, placement } = victim.running;
    this.capacity.release(job.resources, placement);
    this.quota.add(job.team, job.resources.gpuType, -job.resources.gpus);
    this.fairShare.refund(job.team, job.resources);
    const pool = this.runningIn(placement.poolId);
    pool.splice(pool.indexOf(victim.running), 1);
    this.victims.remove(job.id);
    this.preemptions.push({ jobId: job.id, forJobId: forJob.id, reason: victim.reason });
    this.failedShapes.clear();
  }

  private leaveWaiting(job: Job, band: number, reason: PendingReason): void {
    this.blockedBand = Math.max(this.blockedBand, band);
    this.waiting.push({ jobId: job.id, reason });
  }

  /** Built on first need: most rounds start what they can without preempting anyone. */
  private get victims(): VictimCatalog {
    this.victimCatalog ??= new VictimCatalog(
      this.inputs.running,
      this.inputs.teams,
      this.quota,
      this.now,
      this.config.preemption,
      this.config.starvation.boundS,
    );
    return this.victimCatalog;
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

function outranksPreemptible(job: Job, other: Pick<Job, 'priorityClass' | 'preemptible'>): boolean {
  return classOf(job).mayPreempt && isPreemptible(other) && classOf(other).value < classOf(job).value;
}
