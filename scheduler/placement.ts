import type { ClusterCapacity, PoolCapacity } from './capacity';
import { isPreemptible, type Job, type Placement, poolAdmits } from './model';

/**
 * The pools a job may use, best first. Spot capacity can vanish at two minutes' notice, so
 * only preemptible jobs (which checkpoint) go there, and they go there first because it is
 * cheaper; everything else runs on-demand.
 */
export function eligiblePools(job: Job, capacity: ClusterCapacity): PoolCapacity[] {
  const sameType = capacity.pools.filter(
    (pool) => pool.pool.gpuType === job.resources.gpuType && poolAdmits(pool.pool, job),
  );
  const onDemand = sameType.filter((pool) => pool.pool.capacityType === 'on-demand');
  if (!isPreemptible(job)) return onDemand;
  return [...sameType.filter((pool) => pool.pool.capacityType === 'spot'), ...onDemand];
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
