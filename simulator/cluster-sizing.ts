import type { Pool, Team } from '../scheduler/model';
import type { TraceSummary } from './trace';
import type { WorkloadRule } from './workload';

export interface SizedCluster {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  readonly capacityGpus: number;
  /** Trace GPU-time over (capacity × submit span). */
  readonly offeredLoad: number;
}

/**
 * The benchmark cluster, derived from the trace by fixed rules rather than tuned:
 * - size: the largest number of whole nodes at which offered load is still ≥ `minLoad`;
 * - spot: the share of nodes equal to the share of jobs drawn preemptible (only they may use
 *   spot), the rest on-demand;
 * - teams: one per trace `cluster`, equal weights (no team has a claim the trace could
 *   justify), and each GPU type's capacity split into equal nominal quotas.
 */
export function sizeCluster(
  trace: TraceSummary,
  teamIds: readonly string[],
  workload: WorkloadRule,
  minLoad: number,
): SizedCluster {
  const gpusPerNode = workload.node.gpus;
  const nodes = Math.floor(trace.offeredGpus / (minLoad * gpusPerNode));
  if (nodes < 1) throw new Error('trace offers too little load for even one node');
  const spotNodes = Math.round(nodes * workload.classMix.preemptible);
  const pool = (capacityType: Pool['capacityType'], nodeCount: number): Pool => ({
    id: `${workload.gpuType}-${capacityType}`,
    gpuType: workload.gpuType,
    capacityType,
    nodeCount,
    node: workload.node,
  });
  const pools = [pool('on-demand', nodes - spotNodes), pool('spot', spotNodes)].filter(
    (p) => p.nodeCount > 0,
  );
  const capacityGpus = nodes * gpusPerNode;
  return {
    pools,
    teams: equalTeams(teamIds, workload.gpuType, capacityGpus),
    capacityGpus,
    offeredLoad: trace.gpuTimeS / (capacityGpus * trace.spanS),
  };
}

/** Equal weights; quotas split by largest remainder so they add up to the capacity exactly. */
export function equalTeams(teamIds: readonly string[], gpuType: string, capacityGpus: number): Team[] {
  const sorted = [...teamIds].sort();
  const base = Math.floor(capacityGpus / sorted.length);
  const remainder = capacityGpus - base * sorted.length;
  return sorted.map((id, index) => ({
    id,
    weight: 1,
    nominalQuota: { [gpuType]: base + (index < remainder ? 1 : 0) },
  }));
}
