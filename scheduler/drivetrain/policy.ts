import { ClusterBook } from '../cluster-book';
import type { ClusterState, Job } from '../model';
import type { Decision, PolicySession, RoundOptions, SchedulingPolicy } from '../policy';
import { DecayedUsage } from '../usage';
import { PendingIndex } from './pending-index';
import { DispatchRound, type DrivetrainConfig } from './round';

const HOUR = 3600;

/**
 * Defaults are round numbers chosen for the platform, not fitted to any trace:
 * - aging: a job climbs one band per 4 h waited, so preemptible work outranks fresh standard
 *   work after half a working day and nothing starves;
 * - fair share remembers a day of usage (half-life), long enough to span a burst of jobs;
 * - churn: at most 16 preemptions per round, never of a job younger than 10 minutes;
 * - a restart is assumed to cost 2 minutes before the job does useful work again;
 * - backfill looks at up to 8 blocked jobs per team and band, 64 in all, per round.
 */
export const DEFAULT_DRIVETRAIN_CONFIG: DrivetrainConfig = {
  agingStepS: 4 * HOUR,
  usageHalfLifeS: 24 * HOUR,
  maxPreemptionsPerRound: 16,
  preemption: { graceS: 600, restartOverheadS: 120 },
  backfillDepth: { perTeamAndBand: 8, perRound: 64 },
};

/**
 * The Drivetrain policy, in order of precedence:
 * 1. strict priority bands (class, lifted by aging);
 * 2. within a band, the team furthest below its weighted DRF share goes first;
 * 3. within a team, least attained service, then longest waiting;
 * 4. a job starts on free capacity (borrowing idle quota if need be), or by preempting the
 *    cheapest minimal set of lower-class preemptible or borrowed work, or waits;
 * 5. the first job that must wait holds nodes (EASY backfill) and the rest backfill around it.
 */
export class DrivetrainPolicy implements SchedulingPolicy {
  readonly name = 'drivetrain';

  constructor(private readonly config: DrivetrainConfig = DEFAULT_DRIVETRAIN_CONFIG) {}

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

  constructor(
    state: ClusterState,
    private readonly config: DrivetrainConfig,
  ) {
    this.book = new ClusterBook(state);
    this.pending = new PendingIndex(state.pending, config.agingStepS);
    this.decay = new DecayedUsage(config.usageHalfLifeS);
  }

  submit(job: Job): void {
    this.pending.add(job);
  }

  withdraw(jobId: string): void {
    this.pending.withdraw(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
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
    };
    const round = new DispatchRound(inputs, now, this.config, this.decay);
    const decision = round.decide(options.explain ?? true);
    this.book.apply(decision, (jobId) => round.started.get(jobId)!, now);
    return decision;
  }
}
