import { environmentConfig } from '../config/environments';
import type { EnvironmentName } from '../config/schema';
import { DEFAULT_DRIVETRAIN_CONFIG } from '../scheduler/drivetrain/policy';
import { DEFAULT_SIZING, sizeCluster, spotShareOf } from '../simulator/cluster-sizing';
import type { SimulationConfig } from '../simulator/engine';
import { summarizeTrace, type TraceRecord } from '../simulator/trace';
import { DEFAULT_WORKLOAD_RULE, type EstimateModel, toWorkload } from '../simulator/workload';

const DAY = 86_400;
const CHECKPOINT_INTERVAL_S = 1800;

/**
 * The trace without its last `beforeEnd` days, then its last `days`, and/or the `teams` teams
 * with the most GPU-time.
 */
export function traceWindow(
  all: TraceRecord[],
  days?: string,
  teams?: string,
  beforeEnd?: string,
): TraceRecord[] {
  let kept = all;
  const end = (kept[kept.length - 1]?.submitTime ?? 0) - Number(beforeEnd ?? 0) * DAY;
  if (beforeEnd !== undefined) kept = kept.filter((record) => record.submitTime <= end);
  if (days !== undefined) {
    const from = end - Number(days) * DAY;
    kept = kept.filter((record) => record.submitTime >= from);
  }
  if (teams !== undefined) {
    const gpuTime = new Map<string, number>();
    for (const r of kept) gpuTime.set(r.cluster, (gpuTime.get(r.cluster) ?? 0) + r.durationS * r.gpus);
    const busiest = new Set(
      [...gpuTime]
        .sort((a, b) => b[1] - a[1])
        .slice(0, Number(teams))
        .map(([team]) => team),
    );
    kept = kept.filter((record) => busiest.has(record.cluster));
  }
  return kept;
}

/**
 * What a replay of `records` runs on: the cluster sized to the trace (spot share from the
 * environment's config), the workload under the estimate model, and the simulation config.
 */
export function replaySetup(records: TraceRecord[], environment: EnvironmentName, estimates: EstimateModel) {
  const trace = summarizeTrace(records);
  const teamIds = [...new Set(records.map((record) => record.cluster))];
  const spotShare = spotShareOf(environmentConfig(environment));
  const cluster = sizeCluster(trace, teamIds, DEFAULT_WORKLOAD_RULE, { ...DEFAULT_SIZING, spotShare });
  const rule = { ...DEFAULT_WORKLOAD_RULE, node: cluster.node, estimates };
  const workload = toWorkload(records, rule);
  const config: SimulationConfig = {
    pools: cluster.pools,
    teams: cluster.teams,
    checkpointIntervalS: CHECKPOINT_INTERVAL_S,
    restartOverheadS: DEFAULT_DRIVETRAIN_CONFIG.preemption.restartOverheadS,
  };
  return { trace, spotShare, cluster, rule, workload, config };
}
