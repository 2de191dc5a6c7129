import { type CapacityPool, CPU_FLEET, capacityPools } from '../config/capacity';
import type { LocalPoolSizes } from '../config/local';
import type { EnvironmentConfig } from '../config/schema';
import type { Pool, Team } from '../scheduler/model';

/** GPU type of jobs that ask for no GPU: they run on the CPU fleet. */
export const CPU_POOL_TYPE = CPU_FLEET;

/**
 * The scheduler's view of an environment on AWS: the capacity model of config/capacity.ts,
 * one pool per place a job really lands (a Batch compute environment, a Karpenter NodePool,
 * a SageMaker instance type under its quota), each naming its backend and the job shapes
 * it takes. The dispatcher sends a job to the backend of the pool it was placed in, and that
 * backend runs it there: a Batch queue per pool, a NodePool selector, a SageMaker instance type.
 */
export function awsPools(environment: EnvironmentConfig): Pool[] {
  return capacityPools(environment).map(toPool);
}

function toPool(pool: CapacityPool): Pool {
  return {
    id: pool.id,
    gpuType: pool.gpuType,
    capacityType: pool.capacityType,
    nodeCount: pool.nodeCount,
    node: { ...pool.node },
    backend: pool.backend,
    jobShapes: pool.jobShapes,
    // SageMaker gives every training job whole instances: never two jobs on one.
    ...(pool.backend === 'sagemaker' && { exclusiveNodes: true }),
  };
}

export type { LocalPoolSizes };

/**
 * One machine standing in for an environment: the Batch layout of the AWS model (each
 * fleet's single-node on-demand and spot pools and its multi-node pool, the CPU pools),
 * same ids and shapes, each with a few small nodes of GPU slots, all run by the local
 * process backend.
 */
export function localPools(environment: EnvironmentConfig, sizes: LocalPoolSizes): Pool[] {
  const node = { gpus: sizes.gpusPerNode, cpus: 64, memoryMiB: 256 * 1024 };
  return capacityPools(environment)
    .filter((p) => p.backend === 'batch')
    .map((p) => {
      const local = { ...toPool(p), backend: 'local' };
      return p.gpuType === CPU_POOL_TYPE
        ? { ...local, nodeCount: 1 }
        : { ...local, nodeCount: sizes.nodesPerPool, node };
    });
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
