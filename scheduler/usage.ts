import type { RunningJob, UsageLedger } from './model';
import { addResources, NO_RESOURCES, type Resources, scaleResources } from './resources';

/**
 * Decayed usage: each resource-second counts e^(-λ·age), with λ = ln 2 / half-life, so a
 * team's history fades and a burst last week matters less than one an hour ago.
 */
export class DecayedUsage {
  private readonly lambda: number;

  constructor(readonly halfLifeS: number) {
    if (!(halfLifeS > 0)) throw new Error(`usage half-life must be positive, got ${halfLifeS}`);
    this.lambda = Math.LN2 / halfLifeS;
  }

  /**
   * Rolls the ledger forward to `now`, charging each running job from when it started (or
   * from the ledger's time, if later). Jobs that ended since the last round are not seen:
   * call a round on every completion and that gap is nil.
   */
  advance(ledger: UsageLedger, running: readonly RunningJob[], now: number): UsageLedger {
    const elapsed = Math.max(0, now - ledger.at);
    const byTeam: Record<string, Resources> = {};
    for (const [team, used] of Object.entries(ledger.byTeam)) {
      byTeam[team] = scaleResources(used, Math.exp(-this.lambda * elapsed));
    }
    for (const { job, startedAt } of running) {
      const ranFor = Math.max(0, now - Math.max(startedAt, ledger.at));
      const charge = scaleResources(job.resources, (1 - Math.exp(-this.lambda * ranFor)) / this.lambda);
      byTeam[job.team] = addResources(byTeam[job.team] ?? NO_RESOURCES, charge);
    }
    return { at: now, byTeam };
  }

  /**
   * The ledger as an average allocation: a team that held r resources for ever has a decayed
   * total of r/λ, so λ·total is comparable with what it holds right now.
   */
  averageAllocation(ledger: UsageLedger, team: string): Resources {
    return scaleResources(ledger.byTeam[team] ?? NO_RESOURCES, this.lambda);
  }
}
