import type { Job } from '../model';
import type { PendingReason } from '../policy';
import type { QuotaLedger } from './quota';
import type { WhyPending } from './why-pending';

/** A team's standing on one GPU type while the round explains its unscanned jobs. */
interface QuotaStanding {
  readonly gpuType: string;
  readonly held: number;
  readonly quota: number;
  quotaExhausted?: PendingReason;
  outranked?: PendingReason;
}

/**
 * Reasons for the jobs a round's scan never reached: often nearly all of 100,000. Nothing
 * they depend on changes while they are given (no job starts meanwhile), so each team's
 * quota standing is read once per GPU type, and each reason is shared, not looked up per job.
 */
export class UnscannedReasons {
  private readonly standings = new Map<string, QuotaStanding[]>();
  private behindHigherClass: PendingReason | undefined;

  constructor(
    private readonly why: WhyPending,
    private readonly quota: QuotaLedger,
    private readonly anyStarted: boolean,
  ) {}

  /** `behind`: a job of a higher band than this one's was left waiting. */
  of(job: Job, behind: boolean): PendingReason {
    if (behind) {
      this.behindHigherClass ??= this.why.behindHigherClass();
      return this.behindHigherClass;
    }
    const standing = this.standingOf(job.team, job.resources.gpuType);
    // `QuotaLedger.fitsQuota`, on the standing read once.
    if (!(standing.held + job.resources.gpus <= standing.quota)) {
      standing.quotaExhausted ??= this.why.quotaExhausted(job);
      return standing.quotaExhausted;
    }
    if (!this.anyStarted) return this.why.noCapacity(job);
    standing.outranked ??= this.why.outranked(job);
    return standing.outranked;
  }

  private standingOf(team: string, gpuType: string): QuotaStanding {
    let byType = this.standings.get(team);
    if (byType === undefined) {
      byType = [];
      this.standings.set(team, byType);
    }
    for (const standing of byType) if (standing.gpuType === gpuType) return standing;
    const standing = {
      gpuType,
      held: this.quota.gpusHeld(team, gpuType),
      quota: this.quota.quota(team, gpuType),
    };
    byType.push(standing);
    return standing;
  }
}
