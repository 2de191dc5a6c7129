import type { RunningJob, Team, UsageLedger } from '../model';
import { addResources, dominantShare, NO_RESOURCES, type Resources, scaleResources } from '../resources';
import type { DecayedUsage } from '../usage';

/**
 * Weighted DRF across teams. A team's standing is what it holds now plus what it held on
 * average recently (decayed), as a dominant share of the cluster, divided by its weight.
 * Holding now keeps one round from handing everything to one team; the history keeps a
 * team that just finished a burst from jumping the queue again.
 */
export class FairShare {
  private readonly holding = new Map<string, Resources>();
  private readonly history = new Map<string, Resources>();
  private readonly weights = new Map<string, number>();
  /** Standings are asked for on every pick but change only when a team's holding does. */
  private readonly standings = new Map<string, number>();

  constructor(
    teams: readonly Team[],
    running: readonly RunningJob[],
    usage: UsageLedger,
    decay: DecayedUsage,
    private readonly clusterTotal: Resources,
  ) {
    for (const team of teams) this.weights.set(team.id, team.weight);
    for (const { job } of running) this.charge(job.team, job.resources);
    for (const team of Object.keys(usage.byTeam))
      this.history.set(team, decay.averageAllocation(usage, team));
  }

  standing(team: string): number {
    let standing = this.standings.get(team);
    if (standing === undefined) {
      standing = this.computeStanding(team);
      this.standings.set(team, standing);
    }
    return standing;
  }

  private computeStanding(team: string): number {
    const recent = this.history.get(team) ?? NO_RESOURCES;
    const now = this.holding.get(team) ?? NO_RESOURCES;
    const weight = this.weights.get(team) ?? 1;
    return dominantShare(addResources(recent, now), this.clusterTotal) / weight;
  }

  charge(team: string, resources: Resources): void {
    this.standings.delete(team);
    this.holding.set(team, addResources(this.holding.get(team) ?? NO_RESOURCES, resources));
  }

  refund(team: string, resources: Resources): void {
    this.charge(team, scaleResources(resources, -1));
  }

  /** The team that is furthest below its share; ties go to the lexically first id. */
  neediest(teams: Iterable<string>): string | undefined {
    let best: string | undefined;
    let bestStanding = Number.POSITIVE_INFINITY;
    for (const team of teams) {
      const standing = this.standing(team);
      if (standing < bestStanding || (standing === bestStanding && best !== undefined && team < best)) {
        best = team;
        bestStanding = standing;
      }
    }
    return best;
  }
}
