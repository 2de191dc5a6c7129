import { instanceVcpus } from './instance-types';
import { TRAINING_INSTANCES } from './sagemaker-instances';
import type { CapacityType, EnvironmentConfig, GpuFleet } from './schema';

/**
 * The capacity model: every place a job can really land, derived from config. The stacks
 * build exactly these (a Batch compute environment and its queue, a Karpenter NodePool, a
 * SageMaker instance type under its account quota), the scheduler places jobs on them, and
 * the backends run each job where it was placed.
 */

export type PoolBackend = 'batch' | 'eks' | 'sagemaker';
export type PoolJobShapes = 'single-node' | 'multi-node' | 'any';

/** GPU type (and fleet name) of work that asks for no GPU. */
export const CPU_FLEET = 'cpu';

export interface CapacityPool {
  /** Unique in the environment; also names the Batch queue and the Karpenter NodePool. */
  readonly id: string;
  readonly backend: PoolBackend;
  /** Fleet name, or `cpu`. */
  readonly fleet: string;
  readonly gpuType: string;
  readonly capacityType: CapacityType;
  /** Batch runs multi-node parallel jobs only in compute environments of their own. */
  readonly jobShapes: PoolJobShapes;
  readonly nodeCount: number;
  /** Resources of one node: the largest instance type the pool may launch. */
  readonly node: { readonly gpus: number; readonly cpus: number; readonly memoryMiB: number };
  /** EC2 instance types (Batch, EKS) or the one SageMaker instance type. */
  readonly instanceTypes: readonly string[];
}

/** One CPU node in the model: an m7i.16xlarge-like node. */
export const CPU_NODE = { gpus: 0, cpus: 64, memoryMiB: 256 * 1024 } as const;

/** Pool id of a Batch pool: `<fleet>-<on-demand|spot|multi-node>`. */
export function batchPoolId(fleet: string, capacity: CapacityType | 'multi-node'): string {
  return `${fleet}-${capacity}`;
}

export function eksPoolId(fleet: string, capacity: CapacityType): string {
  return `eks-${fleet}-${capacity}`;
}

/** `sagemaker-g5.12xlarge-spot`: the instance type without its `ml.` prefix. */
export function sageMakerPoolId(instanceType: string, capacity: CapacityType): string {
  return `sagemaker-${instanceType.replace(/^ml\./, '')}-${capacity}`;
}

/** The SageMaker instance type a pool id names, or undefined when it is not a SageMaker pool. */
export function sageMakerInstanceOf(poolId: string): string | undefined {
  const match = /^sagemaker-(.+)-(on-demand|spot)$/.exec(poolId);
  return match ? `ml.${match[1]}` : undefined;
}

function gpuNode(fleet: GpuFleet, instanceTypes: readonly string[]) {
  return {
    gpus: fleet.gpusPerInstance,
    cpus: Math.max(...instanceTypes.map(instanceVcpus)),
    memoryMiB: fleet.instanceMemoryGiB * 1024,
  };
}

/** Batch: single-node on-demand and spot environments per fleet, a multi-node EFA one where configured. */
function batchPools(env: EnvironmentConfig): CapacityPool[] {
  const pools: CapacityPool[] = [];
  for (const fleet of env.gpuFleets) {
    const node = gpuNode(fleet, fleet.instanceTypes);
    const single = (capacityType: CapacityType, maxVcpus: number) =>
      pools.push({
        id: batchPoolId(fleet.name, capacityType),
        backend: 'batch',
        fleet: fleet.name,
        gpuType: fleet.gpuType,
        capacityType,
        jobShapes: 'single-node',
        nodeCount: Math.floor(maxVcpus / node.cpus),
        node,
        instanceTypes: fleet.instanceTypes,
      });
    single('on-demand', fleet.onDemandMaxVcpus);
    single('spot', fleet.spotMaxVcpus);
    if (fleet.multiNode) {
      const { instanceType, maxVcpus, maxNodes } = fleet.multiNode;
      const multiNode = gpuNode(fleet, [instanceType]);
      pools.push({
        id: batchPoolId(fleet.name, 'multi-node'),
        backend: 'batch',
        fleet: fleet.name,
        gpuType: fleet.gpuType,
        // Batch runs multi-node parallel jobs on on-demand capacity only.
        capacityType: 'on-demand',
        jobShapes: 'multi-node',
        nodeCount: Math.min(maxNodes, Math.floor(maxVcpus / multiNode.cpus)),
        node: multiNode,
        instanceTypes: [instanceType],
      });
    }
  }
  const cpu = (capacityType: CapacityType, maxVcpus: number) =>
    pools.push({
      id: batchPoolId(CPU_FLEET, capacityType),
      backend: 'batch',
      fleet: CPU_FLEET,
      gpuType: CPU_FLEET,
      capacityType,
      jobShapes: 'single-node',
      nodeCount: Math.floor(maxVcpus / CPU_NODE.cpus),
      node: CPU_NODE,
      instanceTypes: env.cpuFleet.instanceClasses,
    });
  cpu('on-demand', env.cpuFleet.onDemandMaxVcpus);
  cpu('spot', env.cpuFleet.spotMaxVcpus);
  return pools.filter((p) => p.nodeCount > 0);
}

/** One pool per capacity type that has nodes. */
function perCapacity(
  onDemand: number,
  spot: number,
  make: (capacityType: CapacityType, nodeCount: number) => CapacityPool,
): CapacityPool[] {
  return (
    [
      ['on-demand', onDemand],
      ['spot', spot],
    ] as const
  )
    .filter(([, nodes]) => nodes > 0)
    .map(([capacityType, nodes]) => make(capacityType, nodes));
}

/** EKS: one Karpenter NodePool per GPU fleet and capacity type, limited to its configured nodes. */
function eksPools(env: EnvironmentConfig): CapacityPool[] {
  return env.eks.gpuFleets.flatMap((entry) => {
    const fleet = env.gpuFleets.find((f) => f.name === entry.fleet);
    if (!fleet) return [];
    const node = gpuNode(fleet, fleet.instanceTypes);
    return perCapacity(entry.onDemandNodes, entry.spotNodes, (capacityType, nodeCount) => ({
      id: eksPoolId(fleet.name, capacityType),
      backend: 'eks',
      fleet: fleet.name,
      gpuType: fleet.gpuType,
      capacityType,
      // Gangs are admitted all or nothing by the dispatcher (waitForPodsReady).
      jobShapes: 'any',
      nodeCount,
      node,
      instanceTypes: fleet.instanceTypes,
    }));
  });
}

/** SageMaker: one pool per instance type and capacity type, as many nodes as the account quota allows. */
function sageMakerPools(env: EnvironmentConfig): CapacityPool[] {
  return env.sagemaker.instances.flatMap((entry) => {
    const instance = TRAINING_INSTANCES[entry.instanceType];
    if (!instance) return [];
    const fleet =
      instance.gpuType === CPU_FLEET
        ? CPU_FLEET
        : env.gpuFleets.find((f) => f.gpuType === instance.gpuType)?.name;
    if (fleet === undefined) return [];
    const node = { gpus: instance.gpus, cpus: instance.vcpus, memoryMiB: instance.memoryGiB * 1024 };
    return perCapacity(entry.onDemandQuota, entry.spotQuota, (capacityType, nodeCount) => ({
      id: sageMakerPoolId(instance.type, capacityType),
      backend: 'sagemaker',
      fleet,
      gpuType: instance.gpuType,
      capacityType,
      jobShapes: 'any',
      nodeCount,
      node,
      instanceTypes: [instance.type],
    }));
  });
}

/** Every pool of an environment: Batch first, then EKS, then SageMaker (the scheduler's first-fit order). */
export function capacityPools(env: EnvironmentConfig): CapacityPool[] {
  return [...batchPools(env), ...eksPools(env), ...sageMakerPools(env)];
}

/** GPUs per GPU type over every pool: what team quotas are checked against. */
export function gpusByType(pools: readonly CapacityPool[]): Map<string, number> {
  const total = new Map<string, number>();
  for (const pool of pools) {
    total.set(pool.gpuType, (total.get(pool.gpuType) ?? 0) + pool.node.gpus * pool.nodeCount);
  }
  return total;
}
