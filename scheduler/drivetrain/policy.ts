import { ClusterBook } from '../cluster-book';
import type { ClusterState, Job } from '../model';
import type { Decision, PolicySession, Reservation, RoundOptions, SchedulingPolicy } from '../policy';
import { DecayedUsage } from '../usage';
import { ResourceDimensions } from './fair-share';
import { PendingIndex } from './pending-index';
import { DispatchRound, type DrivetrainConfig, type HoldPlanning } from './round';
import { RunTimeLearner, RuntimePredictor } from './runtime-prediction';

const HOUR = 3600;

/**
 * Defaults are round numbers chosen for the platform, not fitted to any trace:
 * - aging: a preempted job sheds one service level per 4 h waited, within its class;
 * - starvation: nobody waits more than a day before the next nodes it fits are held for it;
 *   the 4 oldest such jobs are served per round;
 * - fair share remembers a day of usage (half-life), long enough to span a burst of jobs;
 * - churn: at most 16 preemptions per round, never of a job younger than 10 minutes, and
 *   only 2 on behalf of jobs that have waited less than a week: capacity frees by itself
 *   every few minutes in a busy cluster and a preemption throws work away (replays with a
 *   day's patience preempted ten times more and lost far more work). Cheap reclaims happen
 *   at once; a team's lent quota returns within a week plus a round in the worst case;
 * - a restart is assumed to cost 2 minutes before the job does useful work again;
 * - backfill tries up to 8 blocked jobs per team and band, 64 in all, and looks at no more
 *   than 64 jobs per team and band (jobs whose shape already failed cost a lookup), 1,024 in
 *   all, per round;
 * - holds are planned from declared limits (no `holdPlanning`): planned from predicted run
 *   times they won on three 30-day windows of Philly but lost max wait on the full trace
 *   (README, "Scheduling policy").
 */
export const DEFAULT_DRIVETRAIN_CONFIG: DrivetrainConfig = {
  agingStepS: 4 * HOUR,
  usageHalfLifeS: 24 * HOUR,
  maxPreemptionsPerRound: 16,
  preemption: { graceS: 600, restartOverheadS: 120, patienceS: 7 * 24 * HOUR, impatientVictims: 2 },
  backfillDepth: { perTeamAndBand: 8, perRound: 64, scanPerTeamAndBand: 64, scanPerRound: 1024 },
  starvation: { boundS: 24 * HOUR, maxReservations: 4 },
};

/**
 * The Drivetrain policy, in order of precedence:
 * 0. the oldest jobs past the starvation bound start or hold their earliest nodes (a few
 *    holds at a time, each kept until its job starts);
 * 1. strict priority classes (aging never lifts a job above a higher class);
 * 2. within a class, the team furthest below its weighted DRF share goes first (each GPU
 *    type, vCPUs and memory are separate resources);
 * 3. within a team, least attained service (aged), then longest waiting;
 * 4. a job starts on free capacity (borrowing idle quota if need be), or by preempting the
 *    cheapest minimal set of lower-class preemptible work (its own team's, or another team's
 *    on borrowed quota) or, within its team's quota, of borrowed work, or waits;
 * 5. the first other job that must wait holds nodes too (EASY backfill) and the rest
 *    backfill around every hold.
 */
export class DrivetrainPolicy implements SchedulingPolicy {
  readonly name = 'drivetrain';

  constructor(private readonly config: DrivetrainConfig = DEFAULT_DRIVETRAIN_CONFIG) {
    // Config can come from JSON (bench:scheduler --drivetrain-config), past the type's guard.
    if ((config.holdPlanning?.starving as HoldPlanning | undefined) === 'predicted')
      throw new Error('holdPlanning.starving cannot be "predicted": it would break the starvation bound');
  }

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new DrivetrainSession(state, this.config);
  }
}

class DrivetrainSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly pending: PendingIndex;
  private readonly decay: DecayedUsage;
  private readonly dimensions: ResourceDimensions;
  private carriedHolds: readonly Reservation[];
  /** Only when holds are planned from predicted run times (`DrivetrainConfig.holdPlanning`). */
  private readonly runTimes: RunTimeLearner | undefined;

  constructor(
    state: ClusterState,
    private readonly config: DrivetrainConfig,
  ) {
    this.book = new ClusterBook(state);
    this.pending = new PendingIndex(state.pending, config.agingStepS);
    this.decay = new DecayedUsage(config.usageHalfLifeS);
    this.dimensions = new ResourceDimensions(state.pools);
    this.carriedHolds = state.carriedHolds ?? [];
    const { holdPlanning } = config;
    if (holdPlanning !== undefined)
      this.runTimes = new RunTimeLearner(RuntimePredictor.from(state.recentRuntimes, holdPlanning.submitter));
  }

  submit(job: Job): void {
    this.pending.add(job);
  }

  withdraw(jobId: string): void {
    this.pending.withdraw(jobId);
    this.carriedHolds = this.carriedHolds.filter((hold) => hold.jobId !== jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
    this.runTimes?.finished(jobId);
  }

  checkpointed(jobId: string, at: number): void {
    this.book.checkpointed(jobId, at);
  }

  decide(now: number, options: RoundOptions = {}): Decision {
    const running = this.book.running();
    const inputs = {
      pools: this.book.pools,
      teams: this.book.teams,
      running,
      capacity: this.book.capacity(),
      pending: this.pending,
      usage: this.decay.advance(this.book.usage, running, now),
      dimensions: this.dimensions,
      carriedHolds: this.carriedHolds,
      predictor: this.runTimes?.learn(now),
    };
    const round = new DispatchRound(inputs, now, this.config, this.decay);
    const decision = round.decide(options.explain ?? true);
    this.book.apply(decision, (jobId) => round.started.get(jobId)!, now);
    this.carriedHolds = decision.carriedHolds ?? [];
    this.runTimes?.applied(decision, round.started, now);
    return decision;
  }
}
