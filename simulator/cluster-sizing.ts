import { type EnvironmentConfig, fleetGpuCapacity } from '../config/schema';
import type { Pool, Team } from '../scheduler/model';
import type { Resources } from '../scheduler/resources';
import type { TraceSummary } from './trace';
import type { WorkloadRule } from './workload';

export interface SizingRule {
  /** Offered load the cluster is sized for. */
  readonly targetLoad: number;
  /** Offered load the sized cluster must land in; it is reported either way. */
  readonly loadRange: readonly [number, number];
  /** Share of the cluster's GPUs bought as spot (see `spotShareOf`). */
  readonly spotShare: number;
}

export const DEFAULT_SIZING: Omit<SizingRule, 'spotShare'> = { targetLoad: 0.8, loadRange: [0.75, 0.85] };

export interface SizedCluster {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  /** The node every pool is made of; jobs are split into gang members of this size. */
  readonly node: Resources;
  readonly capacityGpus: number;
  /** Trace GPU-time over (capacity × submit span). */
  readonly offeredLoad: number;
  readonly loadInRange: boolean;
}

/** Node sizes tried, largest first: small traces need finer steps to land in the load range. */
const GPUS_PER_NODE = [8, 4, 2, 1];

/**
 * The benchmark cluster, derived from the trace by fixed rules rather than tuned:
 * - size: whole nodes nearest `targetLoad`, with the largest node (of 8, 4, 2, 1 GPUs, CPUs
 *   and memory per GPU as in the workload rule's node) that puts offered load inside
 *   `loadRange`;
 * - spot: `spotShare` of the nodes (from an environment's config), the rest on-demand, with
 *   on-demand nodes added if needed so that pool alone holds the trace's largest job;
 * - teams: one per trace `cluster`, equal weights (no team has a claim the trace could
 *   justify), and each pool's capacity split into equal nominal quotas.
 */
export function sizeCluster(
  trace: TraceSummary,
  teamIds: readonly string[],
  workload: WorkloadRule,
  rule: SizingRule,
): SizedCluster {
  const candidates = GPUS_PER_NODE.filter((gpus) => gpus <= workload.node.gpus).map((gpus) => {
    // A gang never spans pools and every class may run on-demand, so the on-demand pool alone
    // holds the largest job; spot keeps its configured share of the sized cluster.
    const largestJobNodes = Math.ceil(trace.maxGpus / gpus);
    const sized = Math.max(1, largestJobNodes, Math.round(trace.offeredGpus / (rule.targetLoad * gpus)));
    const spotNodes = Math.round(sized * rule.spotShare);
    const onDemandNodes = Math.max(largestJobNodes, sized - spotNodes);
    const nodes = onDemandNodes + spotNodes;
    const offeredLoad = trace.gpuTimeS / (nodes * gpus * trace.spanS);
    const loadInRange = offeredLoad >= rule.loadRange[0] && offeredLoad <= rule.loadRange[1];
    return { gpus, nodes, onDemandNodes, spotNodes, offeredLoad, loadInRange };
  });
  const distance = (load: number) => Math.abs(load - rule.targetLoad);
  const chosen =
    candidates.find((c) => c.loadInRange) ??
    candidates.reduce((best, c) => (distance(c.offeredLoad) < distance(best.offeredLoad) ? c : best));
  const perGpu = (total: number) => (total * chosen.gpus) / workload.node.gpus;
  const node = {
    gpus: chosen.gpus,
    cpus: perGpu(workload.node.cpus),
    memoryMiB: perGpu(workload.node.memoryMiB),
  };
  const pool = (capacityType: Pool['capacityType'], nodeCount: number): Pool => ({
    id: `${workload.gpuType}-${capacityType}`,
    gpuType: workload.gpuType,
    capacityType,
    nodeCount,
    node,
  });
  const pools = [pool('on-demand', chosen.onDemandNodes), pool('spot', chosen.spotNodes)].filter(
    (p) => p.nodeCount > 0,
  );
  const capacityGpus = chosen.nodes * chosen.gpus;
  return {
    pools,
    teams: equalTeams(teamIds, workload.gpuType, capacityGpus),
    node,
    capacityGpus,
    offeredLoad: chosen.offeredLoad,
    loadInRange: chosen.loadInRange,
  };
}

/** Share of an environment's GPUs that its config buys as spot, over all GPU fleets. */
export function spotShareOf(environment: EnvironmentConfig): number {
  let spot = 0;
  let total = 0;
  for (const fleet of environment.gpuFleets) {
    const capacity = fleetGpuCapacity(fleet);
    spot += capacity.spot;
    total += capacity.spot + capacity.onDemand;
  }
  return total === 0 ? 0 : spot / total;
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
