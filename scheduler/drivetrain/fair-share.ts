import type { JobResources, Pool, RunningJob, Team, TeamUsage, UsageLedger } from '../model';
import type { DecayedUsage } from '../usage';

/**
 * The resources fair share divides, each its own DRF dimension: every GPU type (an H100 is
 * not an A10G), then vCPUs, then memory. Totals are the whole cluster's.
 */
export class ResourceDimensions {
  private readonly gpuIndex = new Map<string, number>();
  readonly totals: Float64Array;
  private readonly cpuIndex: number;

  constructor(pools: readonly Pool[]) {
    for (const pool of pools) {
      if (pool.node.gpus > 0 && !this.gpuIndex.has(pool.gpuType))
        this.gpuIndex.set(pool.gpuType, this.gpuIndex.size);
    }
    this.cpuIndex = this.gpuIndex.size;
    this.totals = new Float64Array(this.cpuIndex + 2);
    for (const pool of pools) {
      const gpu = this.gpuIndex.get(pool.gpuType);
      if (gpu !== undefined && pool.node.gpus > 0) this.totals[gpu]! += pool.node.gpus * pool.nodeCount;
      this.totals[this.cpuIndex]! += pool.node.cpus * pool.nodeCount;
      this.totals[this.cpuIndex + 1]! += pool.node.memoryMiB * pool.nodeCount;
    }
  }

  get size(): number {
    return this.totals.length;
  }

  /** Adds `sign ×` a job's resources to `into`. */
  addJob(into: Float64Array, resources: JobResources, sign: number): void {
    const gpu = this.gpuIndex.get(resources.gpuType);
    if (gpu !== undefined) into[gpu]! += sign * resources.gpus;
    into[this.cpuIndex]! += sign * resources.cpus;
    into[this.cpuIndex + 1]! += sign * resources.memoryMiB;
  }

  /**
   * A usage ledger entry as a vector; GPU types the cluster lacks are ignored. A ledger
   * stored before GPU types were kept apart has only the sum: it is spread over the types in
   * proportion to the cluster's GPUs of each.
   */
  ofUsage(usage: TeamUsage): Float64Array {
    const vector = new Float64Array(this.size);
    if (usage.gpusByType === undefined) {
      let clusterGpus = 0;
      for (let i = 0; i < this.cpuIndex; i++) clusterGpus += this.totals[i]!;
      for (let i = 0; i < this.cpuIndex; i++)
        vector[i] = clusterGpus > 0 ? (usage.gpus * this.totals[i]!) / clusterGpus : 0;
    }
    for (const [type, gpus] of Object.entries(usage.gpusByType ?? {})) {
      const gpu = this.gpuIndex.get(type);
      if (gpu !== undefined) vector[gpu] = gpus;
    }
    vector[this.cpuIndex] = usage.cpus;
    vector[this.cpuIndex + 1] = usage.memoryMiB;
    return vector;
  }

  /**
   * Dominant Resource Fairness share (Ghodsi et al., NSDI'11): the largest fraction of any one
   * resource that `used` takes of the cluster. Resources the cluster lacks are ignored.
   */
  dominantShare(used: Float64Array, extra?: Float64Array): number {
    let share = 0;
    for (let i = 0; i < this.totals.length; i++) {
      const total = this.totals[i]!;
      if (total > 0) share = Math.max(share, (used[i]! + (extra?.[i] ?? 0)) / total);
    }
    return share;
  }
}

/**
 * Weighted DRF across teams. A team's standing is what it holds now plus what it held on
 * average recently (decayed), as a dominant share of the cluster, divided by its weight.
 * Holding now keeps one round from handing everything to one team; the history keeps a
 * team that just finished a burst from jumping the queue again.
 */
export class FairShare {
  private readonly holding = new Map<string, Float64Array>();
  private readonly history = new Map<string, Float64Array>();
  private readonly weights = new Map<string, number>();
  /** Standings are asked for on every pick but change only when a team's holding does. */
  private readonly standings = new Map<string, number>();

  constructor(
    teams: readonly Team[],
    running: readonly RunningJob[],
    usage: UsageLedger,
    decay: DecayedUsage,
    private readonly dimensions: ResourceDimensions,
  ) {
    for (const team of teams) this.weights.set(team.id, team.weight);
    for (const { job } of running) this.charge(job.team, job.resources);
    for (const team of Object.keys(usage.byTeam))
      this.history.set(team, dimensions.ofUsage(decay.averageAllocation(usage, team)));
  }

  standing(team: string): number {
    let standing = this.standings.get(team);
    if (standing === undefined) {
      const now = this.holdingOf(team);
      const weight = this.weights.get(team) ?? 1;
      standing = this.dimensions.dominantShare(now, this.history.get(team)) / weight;
      this.standings.set(team, standing);
    }
    return standing;
  }

  charge(team: string, resources: JobResources): void {
    this.standings.delete(team);
    this.dimensions.addJob(this.holdingOf(team), resources, 1);
  }

  refund(team: string, resources: JobResources): void {
    this.standings.delete(team);
    this.dimensions.addJob(this.holdingOf(team), resources, -1);
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

  private holdingOf(team: string): Float64Array {
    let holding = this.holding.get(team);
    if (holding === undefined) {
      holding = new Float64Array(this.dimensions.size);
      this.holding.set(team, holding);
    }
    return holding;
  }
}
