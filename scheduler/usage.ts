import type { RunningJob, TeamUsage, UsageLedger } from './model';

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
    const byTeam: Record<string, TeamUsage> = {};
    const decay = Math.exp(-this.lambda * elapsed);
    for (const [team, used] of Object.entries(ledger.byTeam)) byTeam[team] = scaleUsage(used, decay);
    for (const { job, startedAt } of running) {
      const ranFor = Math.max(0, now - Math.max(startedAt, ledger.at));
      const seconds = (1 - Math.exp(-this.lambda * ranFor)) / this.lambda;
      const { gpus, cpus, memoryMiB, gpuType } = job.resources;
      const before = byTeam[job.team] ?? EMPTY_USAGE;
      const byType = { ...before.gpusByType };
      if (gpus > 0) byType[gpuType] = (byType[gpuType] ?? 0) + gpus * seconds;
      byTeam[job.team] = {
        gpus: before.gpus + gpus * seconds,
        cpus: before.cpus + cpus * seconds,
        memoryMiB: before.memoryMiB + memoryMiB * seconds,
        gpusByType: byType,
      };
    }
    return { at: now, byTeam };
  }

  /**
   * The ledger as an average allocation: a team that held r resources for ever has a decayed
   * total of r/λ, so λ·total is comparable with what it holds right now.
   */
  averageAllocation(ledger: UsageLedger, team: string): TeamUsage {
    return scaleUsage(ledger.byTeam[team] ?? EMPTY_USAGE, this.lambda);
  }
}

const EMPTY_USAGE: TeamUsage = { gpus: 0, cpus: 0, memoryMiB: 0 };

function scaleUsage(used: TeamUsage, factor: number): TeamUsage {
  const scaled: TeamUsage = {
    gpus: used.gpus * factor,
    cpus: used.cpus * factor,
    memoryMiB: used.memoryMiB * factor,
  };
  if (used.gpusByType === undefined) return scaled;
  const gpusByType: Record<string, number> = {};
  for (const [type, value] of Object.entries(used.gpusByType)) gpusByType[type] = value * factor;
  return { ...scaled, gpusByType };
}
