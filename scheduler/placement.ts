import type { ClusterCapacity, PoolCapacity } from './capacity';
import { isPreemptible, type Job, type Placement, poolAdmits } from './model';
import { CAPACITY_PREFERENCE } from './priority-classes';

/**
 * The pools a job may use, best first, by its class's capacity preference (see
 * `CAPACITY_PREFERENCE`): every policy, baselines included, places by this one rule.
 */
export function eligiblePools(job: Job, capacity: ClusterCapacity): PoolCapacity[] {
  const sameType = capacity.pools.filter(
    (pool) => pool.pool.gpuType === job.resources.gpuType && poolAdmits(pool.pool, job),
  );
  const preference = CAPACITY_PREFERENCE[isPreemptible(job) ? 'preemptible' : job.priorityClass];
  return preference.flatMap((capacityType) =>
    sameType.filter((pool) => pool.pool.capacityType === capacityType),
  );
}

/** The first placement that fits right now, in the job's pool preference order. */
export function place(
  job: Job,
  pools: readonly PoolCapacity[],
  usable?: (pool: PoolCapacity, node: number) => boolean,
): Placement | undefined {
  for (const pool of pools) {
    const nodes = pool.findNodes(job.resources, usable && ((node) => usable(pool, node)));
    if (nodes !== undefined) return { poolId: pool.pool.id, nodes };
  }
  return undefined;
}
