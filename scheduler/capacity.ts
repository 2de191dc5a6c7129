import { type JobResources, type Placement, type Pool, perNode, type RunningJob } from './model';
import type { Resources } from './resources';

// Resource splits like 12 GPUs over 2 nodes give fractions; never call a rounding error a fit.
const EPSILON = 1e-9;

/** Per-node free resources of one pool, with gang-aware best-fit placement. */
export class PoolCapacity {
  /** Sums of `freeGpus` and `freeCpus`, kept current: rounds ask for them on every step. */
  private freeGpuTotal: number;
  private freeCpuTotal: number;
  /** Nodes running nothing: what an `exclusiveNodes` pool can still give out. */
  private emptyNodes: number;

  private constructor(
    readonly pool: Pool,
    private readonly freeGpus: Float64Array,
    private readonly freeCpus: Float64Array,
    private readonly freeMemoryMiB: Float64Array,
    /** Gang members on each node. */
    private readonly membersOn: Int32Array,
  ) {
    this.freeGpuTotal = freeGpus.reduce((sum, free) => sum + free, 0);
    this.freeCpuTotal = freeCpus.reduce((sum, free) => sum + free, 0);
    this.emptyNodes = membersOn.reduce((sum, members) => sum + (members === 0 ? 1 : 0), 0);
  }

  static empty(pool: Pool): PoolCapacity {
    const filled = (value: number) => new Float64Array(pool.nodeCount).fill(value);
    return new PoolCapacity(
      pool,
      filled(pool.node.gpus),
      filled(pool.node.cpus),
      filled(pool.node.memoryMiB),
      new Int32Array(pool.nodeCount),
    );
  }

  clone(): PoolCapacity {
    return new PoolCapacity(
      this.pool,
      this.freeGpus.slice(),
      this.freeCpus.slice(),
      this.freeMemoryMiB.slice(),
      this.membersOn.slice(),
    );
  }

  get nodeCount(): number {
    return this.pool.nodeCount;
  }

  freeGpusOn(node: number): number {
    return this.freeGpus[node] ?? 0;
  }

  totalFreeGpus(): number {
    return this.freeGpuTotal;
  }

  /**
   * Whether anything could still start here: a free GPU in a GPU pool, a free vCPU in a
   * CPU-only pool (whose jobs ask for no GPU at all).
   */
  hasRoom(): boolean {
    if (this.pool.exclusiveNodes) return this.emptyNodes > 0;
    return this.pool.node.gpus > 0 ? this.freeGpuTotal > EPSILON : this.freeCpuTotal > EPSILON;
  }

  /** Whether the job fits this pool when it is completely empty. */
  couldEverHold(resources: JobResources): boolean {
    const member = perNode(resources);
    const node = this.pool.node;
    return (
      resources.gpuType === this.pool.gpuType &&
      resources.nodes <= this.pool.nodeCount &&
      member.gpus <= node.gpus + EPSILON &&
      member.cpus <= node.cpus + EPSILON &&
      member.memoryMiB <= node.memoryMiB + EPSILON
    );
  }

  nodeHolds(node: number, member: Resources): boolean {
    if (this.pool.exclusiveNodes && (this.membersOn[node] ?? 0) > 0) return false;
    return (
      (this.freeGpus[node] ?? 0) + EPSILON >= member.gpus &&
      (this.freeCpus[node] ?? 0) + EPSILON >= member.cpus &&
      (this.freeMemoryMiB[node] ?? 0) + EPSILON >= member.memoryMiB
    );
  }

  /**
   * Best fit: the `nodes` fullest nodes that still hold one gang member each, which keeps
   * whole nodes free for the next gang. `usable` can rule nodes out (e.g. reserved ones).
   */
  findNodes(resources: JobResources, usable?: (node: number) => boolean): number[] | undefined {
    const member = perNode(resources);
    const candidates: number[] = [];
    for (let node = 0; node < this.pool.nodeCount; node++) {
      if (this.nodeHolds(node, member) && (usable === undefined || usable(node))) candidates.push(node);
    }
    if (candidates.length < resources.nodes) return undefined;
    candidates.sort((a, b) => this.freeGpusOn(a) - this.freeGpusOn(b) || a - b);
    return candidates.slice(0, resources.nodes);
  }

  allocate(resources: JobResources, nodes: readonly number[]): void {
    this.adjust(resources, nodes, -1);
  }

  release(resources: JobResources, nodes: readonly number[]): void {
    this.adjust(resources, nodes, +1);
  }

  private adjust(resources: JobResources, nodes: readonly number[], sign: 1 | -1): void {
    const member = perNode(resources);
    for (const node of nodes) {
      if (node < 0 || node >= this.pool.nodeCount) {
        throw new Error(`pool ${this.pool.id} has no node ${node}`);
      }
      this.freeGpus[node] = (this.freeGpus[node] ?? 0) + sign * member.gpus;
      this.freeGpuTotal += sign * member.gpus;
      this.freeCpus[node] = (this.freeCpus[node] ?? 0) + sign * member.cpus;
      this.freeCpuTotal += sign * member.cpus;
      this.freeMemoryMiB[node] = (this.freeMemoryMiB[node] ?? 0) + sign * member.memoryMiB;
      const members = (this.membersOn[node] ?? 0) - sign;
      if (members === 0 && sign > 0) this.emptyNodes++;
      if (members === 1 && sign < 0) this.emptyNodes--;
      this.membersOn[node] = members;
      const over =
        (this.pool.exclusiveNodes === true && members > 1) ||
        members < 0 ||
        (this.freeGpus[node] ?? 0) < -EPSILON ||
        (this.freeCpus[node] ?? 0) < -EPSILON ||
        (this.freeMemoryMiB[node] ?? 0) < -EPSILON;
      if (over) throw new Error(`node ${node} of pool ${this.pool.id} is over-allocated`);
    }
  }
}

/** Free capacity of every pool, derived from the running jobs. */
export class ClusterCapacity {
  private constructor(readonly pools: readonly PoolCapacity[]) {}

  static of(pools: readonly Pool[], running: readonly RunningJob[]): ClusterCapacity {
    const capacity = new ClusterCapacity(pools.map((pool) => PoolCapacity.empty(pool)));
    for (const { job, placement } of running) capacity.allocate(job.resources, placement);
    return capacity;
  }

  clone(): ClusterCapacity {
    return new ClusterCapacity(this.pools.map((pool) => pool.clone()));
  }

  pool(poolId: string): PoolCapacity {
    const pool = this.pools.find((candidate) => candidate.pool.id === poolId);
    if (pool === undefined) throw new Error(`unknown pool ${poolId}`);
    return pool;
  }

  allocate(resources: JobResources, placement: Placement): void {
    this.pool(placement.poolId).allocate(resources, placement.nodes);
  }

  release(resources: JobResources, placement: Placement): void {
    this.pool(placement.poolId).release(resources, placement.nodes);
  }

  /** Whether any pool has room left (see `PoolCapacity.hasRoom`). */
  hasRoom(): boolean {
    return this.pools.some((pool) => pool.hasRoom());
  }
}
