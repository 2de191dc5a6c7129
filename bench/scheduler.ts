/**
 * Replays the full Philly trace under every policy on one cluster and reports the figures
 * side by side. Usage: npm run bench:scheduler -- [--out bench/results/scheduler.json]
 *   [--trace path.csv]. Writes the JSON, and the queueing-delay CDF as an SVG beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import type { SchedulingPolicy } from '../scheduler/policy';
import { BatchFairsharePolicy } from '../simulator/baselines/batch-fairshare';
import { FifoPolicy } from '../simulator/baselines/fifo';
import { StrictPriorityPolicy } from '../simulator/baselines/strict-priority';
import { sizeCluster } from '../simulator/cluster-sizing';
import { type SimulationConfig, simulate } from '../simulator/engine';
import { metricsOf, type PolicyMetrics } from '../simulator/metrics';
import { readTrace, summarizeTrace } from '../simulator/trace';
import { DEFAULT_WORKLOAD_RULE, toWorkload } from '../simulator/workload';
import { cdfSvg } from './cdf-plot';
import { backloggedState, medianRoundMs } from './decision-round';

const MIN_OFFERED_LOAD = 0.8;
const CHECKPOINT_INTERVAL_S = 1800;
const RESTART_OVERHEAD_S = DEFAULT_DRIVETRAIN_CONFIG.preemption.restartOverheadS;
const DECISION_PENDING_JOBS = 100_000;
const DECISION_ROUNDS = 21;

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/results/scheduler.json' },
    trace: { type: 'string', default: join(import.meta.dirname, '../../shared/data/traces/philly.csv') },
  },
});

const records = readTrace(args.trace);
const trace = summarizeTrace(records);
const teamIds = [...new Set(records.map((record) => record.cluster))];
const cluster = sizeCluster(trace, teamIds, DEFAULT_WORKLOAD_RULE, MIN_OFFERED_LOAD);
const workload = toWorkload(records, DEFAULT_WORKLOAD_RULE);
const config: SimulationConfig = {
  pools: cluster.pools,
  teams: cluster.teams,
  checkpointIntervalS: CHECKPOINT_INTERVAL_S,
  restartOverheadS: RESTART_OVERHEAD_S,
};

const policies: SchedulingPolicy[] = [
  new FifoPolicy(),
  new StrictPriorityPolicy(),
  // Same decay memory as Drivetrain's fair share; Batch defaults otherwise (weight 1, no reservation).
  new BatchFairsharePolicy({
    shareDecaySeconds: DEFAULT_DRIVETRAIN_CONFIG.usageHalfLifeS,
    computeReservation: 0,
    weightFactors: {},
  }),
  new DrivetrainPolicy(),
];

console.log(
  `trace ${args.trace}: ${trace.jobs} jobs, ${trace.teams} teams, ${(trace.spanS / 86_400).toFixed(1)} days`,
);
console.log(
  `cluster: ${cluster.capacityGpus} GPUs (${cluster.pools.map((p) => `${p.id} ${p.nodeCount}×${p.node.gpus}`).join(', ')}), ` +
    `offered load ${cluster.offeredLoad.toFixed(3)} (largest whole-node cluster with load ≥ ${MIN_OFFERED_LOAD})`,
);
console.log(
  `classes: seeded hash of row number, ${JSON.stringify(DEFAULT_WORKLOAD_RULE.classMix)}, seed ${DEFAULT_WORKLOAD_RULE.seed}`,
);

// The single-round figure is taken first, in a heap as fresh as a dispatcher Lambda's, not
// after four replays have grown it.
const now = trace.lastSubmit;
const backlog = backloggedState(cluster.pools, cluster.teams, DECISION_PENDING_JOBS, now);
const decisionMs = medianRoundMs(new DrivetrainPolicy(), backlog, now, DECISION_ROUNDS);

const results: Record<string, PolicyMetrics> = {};
const waits: Record<string, number[]> = {};
const replayStart = performance.now();
for (const policy of policies) {
  const start = performance.now();
  const result = simulate(workload, policy, config);
  results[policy.name] = metricsOf(result);
  waits[policy.name] = result.outcomes.map((outcome) => outcome.waitS).sort((a, b) => a - b);
  console.log(
    `  replayed ${policy.name} in ${((performance.now() - start) / 1000).toFixed(1)} s (${result.rounds} rounds)`,
  );
}
const replayS = (performance.now() - replayStart) / 1000;

printTable(results);
console.log(`replay of all policies: ${replayS.toFixed(1)} s`);
console.log(
  `one drivetrain round, ${DECISION_PENDING_JOBS} pending, ${cluster.teams.length} teams: ${decisionMs.toFixed(1)} ms (median of ${DECISION_ROUNDS})`,
);
printTargets(results, decisionMs, replayS);

const report = {
  trace: { path: args.trace, ...trace },
  cluster: {
    capacityGpus: cluster.capacityGpus,
    offeredLoad: cluster.offeredLoad,
    minOfferedLoad: MIN_OFFERED_LOAD,
    pools: cluster.pools,
    teams: cluster.teams.length,
    teamRule: 'one team per trace cluster, weight 1, nominal quota = capacity / teams (largest remainder)',
    workloadRule: DEFAULT_WORKLOAD_RULE,
    checkpointIntervalS: CHECKPOINT_INTERVAL_S,
    restartOverheadS: RESTART_OVERHEAD_S,
  },
  policies: results,
  decision: { pending: DECISION_PENDING_JOBS, teams: cluster.teams.length, ms: decisionMs },
};
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
const svgPath = `${args.out.replace(/\.json$/, '')}.svg`;
const series = Object.entries(waits).map(([name, sortedWaitsS]) => ({ name, sortedWaitsS }));
writeFileSync(
  svgPath,
  cdfSvg(series, `Queueing delay CDF, ${trace.jobs} Philly jobs on ${cluster.capacityGpus} GPUs`),
);
console.log(`wrote ${args.out} and ${svgPath}`);

function printTable(metrics: Record<string, PolicyMetrics>): void {
  const hours = (s: number) => (s / 3600).toFixed(2);
  console.table(
    Object.fromEntries(
      Object.entries(metrics).map(([name, m]) => [
        name,
        {
          'avg JCT h': hours(m.avgJctS),
          'p50 wait h': hours(m.p50WaitS),
          'p99 wait h': hours(m.p99WaitS),
          'max wait h': hours(m.maxWaitS),
          'makespan d': (m.makespanS / 86_400).toFixed(1),
          util: m.utilization.toFixed(3),
          jain: m.jain.toFixed(3),
          preemptions: m.preemptions,
        },
      ]),
    ),
  );
}

function printTargets(metrics: Record<string, PolicyMetrics>, roundMs: number, totalReplayS: number): void {
  const dt = metrics.drivetrain!;
  const fifo = metrics.fifo!;
  const batch = metrics['batch-fairshare']!;
  const check = (label: string, value: number, limit: number, atMost: boolean) => {
    const met = atMost ? value <= limit : value >= limit;
    console.log(
      `  ${met ? 'met   ' : 'MISSED'} ${label}: ${value.toFixed(3)} (target ${atMost ? '≤' : '≥'} ${limit})`,
    );
  };
  console.log('targets:');
  check('avg JCT / fifo', dt.avgJctS / fifo.avgJctS, 0.5, true);
  check('avg JCT / batch-fairshare', dt.avgJctS / batch.avgJctS, 0.8, true);
  check('p99 wait / batch-fairshare', dt.p99WaitS / batch.p99WaitS, 0.7, true);
  check('utilization - batch-fairshare', dt.utilization - batch.utilization, 0, false);
  check('jain', dt.jain, 0.9, false);
  check('decision round ms', roundMs, 50, true);
  check('replay of all policies s', totalReplayS, 120, true);
}
