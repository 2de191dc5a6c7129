import type { ClusterState } from '../model';
import type { Decision, SchedulingPolicy } from '../policy';
import { DecayedUsage } from '../usage';
import { type DrivetrainConfig, DispatchRound } from './round';

const HOUR = 3600;

/**
 * Defaults are round numbers chosen for the platform, not fitted to any trace:
 * - aging: a job climbs one band per 4 h waited, so preemptible work outranks fresh standard
 *   work after half a working day and nothing starves;
 * - fair share remembers a day of usage (half-life), long enough to span a burst of jobs;
 * - churn: at most 16 preemptions per round, never of a job younger than 10 minutes;
 * - a restart is assumed to cost 2 minutes before the job does useful work again.
 */
export const DEFAULT_DRIVETRAIN_CONFIG: DrivetrainConfig = {
  agingStepS: 4 * HOUR,
  usageHalfLifeS: 24 * HOUR,
  maxPreemptionsPerRound: 16,
  preemption: { graceS: 600, restartOverheadS: 120 },
  backfillDepth: 128,
};

/**
 * The Drivetrain policy, in order of precedence:
 * 1. strict priority bands (class, lifted by aging);
 * 2. within a band, the team furthest below its weighted DRF share goes first;
 * 3. within a team, least attained service, then oldest;
 * 4. a job starts on free capacity (borrowing idle quota if need be), or by preempting the
 *    cheapest minimal set of lower-class preemptible or borrowed work, or waits;
 * 5. the first job that must wait holds nodes (EASY backfill) and everyone else backfills.
 */
export class DrivetrainPolicy implements SchedulingPolicy {
  readonly name = 'drivetrain';
  private readonly decay: DecayedUsage;

  constructor(private readonly config: DrivetrainConfig = DEFAULT_DRIVETRAIN_CONFIG) {
    this.decay = new DecayedUsage(config.usageHalfLifeS);
  }

  decide(state: ClusterState, now: number): Decision {
    const usage = this.decay.advance(state.usage, state.running, now);
    return new DispatchRound(state, usage, now, this.config, this.decay).decide();
  }
}
