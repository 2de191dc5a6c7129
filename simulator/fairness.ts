/**
 * Weighted max-min fair split of `capacity` among demands (water-filling): no team gets more
 * than it asks for, and what is left is shared in proportion to weight.
 */
export function maxMinFairShares(
  capacity: number,
  demands: ReadonlyMap<string, number>,
  weights: ReadonlyMap<string, number>,
): Map<string, number> {
  const shares = new Map<string, number>();
  let unsatisfied = [...demands.keys()].filter((team) => (demands.get(team) ?? 0) > 0);
  let left = capacity;
  while (unsatisfied.length > 0 && left > 0) {
    const totalWeight = unsatisfied.reduce((sum, team) => sum + (weights.get(team) ?? 1), 0);
    const level = left / totalWeight;
    const satisfied = unsatisfied.filter(
      (team) => (demands.get(team) ?? 0) <= level * (weights.get(team) ?? 1),
    );
    if (satisfied.length === 0) {
      for (const team of unsatisfied) shares.set(team, level * (weights.get(team) ?? 1));
      return shares;
    }
    for (const team of satisfied) {
      shares.set(team, demands.get(team) ?? 0);
      left -= demands.get(team) ?? 0;
    }
    unsatisfied = unsatisfied.filter((team) => !satisfied.includes(team));
  }
  return shares;
}

/** Jain's index: 1 when all values are equal, 1/n when one value takes everything. */
export function jainIndex(values: readonly number[]): number {
  if (values.length === 0) return 1;
  const sum = values.reduce((total, value) => total + value, 0);
  const squares = values.reduce((total, value) => total + value * value, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

/**
 * Integrates, while the cluster is contended (demand above capacity), each team's GPUs held
 * and its max-min fair entitlement. A team's ratio of the two is the share it received
 * against the share it was due; Jain's index over those ratios is the fairness score.
 * Uncontended time is left out: then everyone gets what it asks and fairness is moot.
 */
export class EntitlementTracker {
  private readonly received = new Map<string, number>();
  private readonly entitled = new Map<string, number>();

  constructor(
    private readonly capacityGpus: number,
    private readonly weights: ReadonlyMap<string, number>,
  ) {}

  record(dt: number, held: ReadonlyMap<string, number>, demand: ReadonlyMap<string, number>): void {
    if (dt <= 0) return;
    let totalDemand = 0;
    for (const gpus of demand.values()) totalDemand += gpus;
    if (totalDemand <= this.capacityGpus) return;
    for (const [team, share] of maxMinFairShares(this.capacityGpus, demand, this.weights)) {
      this.entitled.set(team, (this.entitled.get(team) ?? 0) + share * dt);
      this.received.set(team, (this.received.get(team) ?? 0) + (held.get(team) ?? 0) * dt);
    }
  }

  jain(): number {
    const ratios = [...this.entitled]
      .filter(([, due]) => due > 0)
      .map(([team, due]) => (this.received.get(team) ?? 0) / due);
    return jainIndex(ratios);
  }
}
