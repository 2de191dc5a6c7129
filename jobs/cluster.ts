import { type EnvironmentConfig, instanceVcpus, vcpusPerGpuOf } from '../config/schema';
import type { Pool, Team } from '../scheduler/model';

/** GPU type of jobs that ask for no GPU: they run on the CPU fleet. */
export const CPU_POOL_TYPE = 'cpu';

/** Size of one CPU node in the scheduler's model (an m7i.16xlarge-like node). */
const CPU_NODE = { gpus: 0, cpus: 64, memoryMiB: 256 * 1024 };

/**
 * The scheduler's view of an environment on AWS: one pool per fleet and capacity type, as
 * many nodes as the compute environment's max vCPUs buy of the fleet's largest instance.
 * Multi-node capacity is on-demand and counts towards the on-demand pool; the Batch backend
 * sends gang jobs to the multi-node queue.
 */
export function awsPools(environment: EnvironmentConfig): Pool[] {
  const pools: Pool[] = [];
  for (const fleet of environment.gpuFleets) {
    const nodeVcpus = Math.max(...fleet.instanceTypes.map(instanceVcpus));
    const node = { gpus: fleet.gpusPerInstance, cpus: nodeVcpus, memoryMiB: fleet.instanceMemoryGiB * 1024 };
    const perNode = vcpusPerGpuOf(fleet) * fleet.gpusPerInstance;
    const onDemand = Math.floor((fleet.onDemandMaxVcpus + (fleet.multiNode?.maxVcpus ?? 0)) / perNode);
    const spot = Math.floor(fleet.spotMaxVcpus / perNode);
    if (onDemand > 0) pools.push(pool(fleet.gpuType, 'on-demand', onDemand, node));
    if (spot > 0) pools.push(pool(fleet.gpuType, 'spot', spot, node));
  }
  const { cpuFleet } = environment;
  const cpuNodes = (vcpus: number) => Math.floor(vcpus / CPU_NODE.cpus);
  if (cpuNodes(cpuFleet.onDemandMaxVcpus) > 0)
    pools.push(pool(CPU_POOL_TYPE, 'on-demand', cpuNodes(cpuFleet.onDemandMaxVcpus), CPU_NODE));
  if (cpuNodes(cpuFleet.spotMaxVcpus) > 0)
    pools.push(pool(CPU_POOL_TYPE, 'spot', cpuNodes(cpuFleet.spotMaxVcpus), CPU_NODE));
  return pools;
}

export interface LocalPoolSizes {
  /** Nodes per GPU fleet and capacity type. */
  readonly nodesPerPool: number;
  /** GPU slots per local node. */
  readonly gpusPerNode: number;
}

/**
 * One machine standing in for an environment: every fleet keeps its capacity types but gets
 * a few small nodes of GPU slots, enough to exercise quotas, preemption and gang jobs.
 */
export function localPools(environment: EnvironmentConfig, sizes: LocalPoolSizes): Pool[] {
  const node = { gpus: sizes.gpusPerNode, cpus: 64, memoryMiB: 256 * 1024 };
  return awsPools(environment).map((p) =>
    p.gpuType === CPU_POOL_TYPE ? { ...p, nodeCount: 1 } : { ...p, nodeCount: sizes.nodesPerPool, node },
  );
}

/** Teams as the scheduler sees them: quotas in config are per fleet, the scheduler's per GPU type. */
export function teamsOf(environment: EnvironmentConfig): Team[] {
  const gpuTypeOf = new Map(environment.gpuFleets.map((f) => [f.name, f.gpuType]));
  return environment.teams.map((t) => ({
    id: t.name,
    weight: t.weight,
    nominalQuota: Object.fromEntries(
      Object.entries(t.gpuQuota).map(([fleet, gpus]) => [gpuTypeOf.get(fleet)!, gpus]),
    ),
  }));
}

function pool(
  gpuType: string,
  capacityType: Pool['capacityType'],
  nodeCount: number,
  node: Pool['node'],
): Pool {
  return { id: `${gpuType}-${capacityType}`, gpuType, capacityType, nodeCount, node };
}
