/**
 * Replays a trace under every policy on one cluster and reports the figures side by side.
 * Usage: npm run bench:scheduler -- [--out bench/results/scheduler.json] [--trace path.csv]
 *   [--last-days N] [--days-before-end N] [--busiest-teams N] [--synthetic JOBS] [--estimates user|perfect]
 *   [--environment prod] [--policies a,b]
 * Writes the JSON, and the queueing-delay CDF as an SVG beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EnvironmentName } from '../config/schema';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import type { SchedulingPolicy } from '../scheduler/policy';
import { BatchFairsharePolicy } from '../simulator/baselines/batch-fairshare';
import { FifoPolicy } from '../simulator/baselines/fifo';
import { KueuePolicy } from '../simulator/baselines/kueue';
import { SlurmPolicy } from '../simulator/baselines/slurm';
import { StrictPriorityPolicy } from '../simulator/baselines/strict-priority';
import { DEFAULT_SIZING } from '../simulator/cluster-sizing';
import { simulate } from '../simulator/engine';
import { metricsOf, type PolicyMetrics, SIZE_CLASSES, waitsByTeamAndSize } from '../simulator/metrics';
import { syntheticTraceCsv } from '../simulator/synthetic-trace';
import { parseTraceFile, readTraceFile } from '../simulator/trace';
import type { EstimateModel } from '../simulator/workload';
import { cdfSvg } from './cdf-plot';
import { backloggedState, medianRoundMs } from './decision-round';
import { mergeConfig } from './merge-config';
import { replaySetup, traceWindow } from './trace-replay';

const DECISION_PENDING_JOBS = 100_000;
const DECISION_ROUNDS = 21;
const DAY = 86_400;
/** The baselines a user would pick instead of Drivetrain; the targets compare with the best. */
const USER_BASELINES = ['slurm', 'kueue', 'batch-fairshare'];

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/results/scheduler.json' },
    trace: { type: 'string', default: join(import.meta.dirname, '../../shared/data/traces/philly.csv') },
    'last-days': { type: 'string' },
    /** Ends the trace this many days before its last submission: other windows, same rules. */
    'days-before-end': { type: 'string' },
    'busiest-teams': { type: 'string' },
    synthetic: { type: 'string' },
    estimates: { type: 'string', default: 'user' },
    environment: { type: 'string', default: 'prod' },
    policies: { type: 'string' },
    /** JSON merged into Drivetrain's defaults, e.g. '{"starvation":{"boundS":43200}}'. */
    'drivetrain-config': { type: 'string' },
  },
});
const drivetrainConfig = mergeConfig(
  DEFAULT_DRIVETRAIN_CONFIG,
  JSON.parse(args['drivetrain-config'] ?? '{}'),
);
const estimates = args.estimates as EstimateModel;
if (estimates !== 'user' && estimates !== 'perfect') throw new Error('--estimates is user or perfect');

const parsed = args.synthetic
  ? parseTraceFile(
      syntheticTraceCsv({ jobs: Number(args.synthetic), seed: 7, teams: 12, meanInterarrivalS: 120 }),
    )
  : readTraceFile(args.trace);
const source = args.synthetic
  ? `synthetic, ${args.synthetic} jobs (simulator/synthetic-trace.ts, seed 7)`
  : `${args.trace} (${parsed.format} format${parsed.cpuOnlyRows ? `, ${parsed.cpuOnlyRows} CPU-only rows left out` : ''})`;
let records = parsed.records;
records = traceWindow(records, args['last-days'], args['busiest-teams'], args['days-before-end']);
const { trace, spotShare, cluster, rule, workload, config } = replaySetup(
  records,
  args.environment as EnvironmentName,
  estimates,
);

const allPolicies: SchedulingPolicy[] = [
  new FifoPolicy(),
  new StrictPriorityPolicy(),
  new SlurmPolicy(),
  new KueuePolicy(),
  // Batch defaults (weight 1, no compute reservation); a day of decay, as Drivetrain remembers.
  new BatchFairsharePolicy({
    shareDecaySeconds: DEFAULT_DRIVETRAIN_CONFIG.usageHalfLifeS,
    computeReservation: 0,
    weightFactors: {},
  }),
  new DrivetrainPolicy(drivetrainConfig),
];
const wanted = args.policies?.split(',');
const policies = allPolicies.filter((policy) => wanted === undefined || wanted.includes(policy.name));

const [low, high] = DEFAULT_SIZING.loadRange;
console.log(
  `trace ${source}${args['days-before-end'] ? `, up to ${args['days-before-end']} days before its end` : ''}${args['last-days'] ? `, last ${args['last-days']} days` : ''}${args['busiest-teams'] ? `, ${args['busiest-teams']} busiest teams` : ''}: ` +
    `${trace.jobs} jobs, ${trace.teams} teams, ${(trace.spanS / DAY).toFixed(1)} days`,
);
console.log(
  `cluster: ${cluster.capacityGpus} GPUs (${cluster.pools.map((p) => `${p.id} ${p.nodeCount}×${p.node.gpus}`).join(', ')}), ` +
    `offered load ${cluster.offeredLoad.toFixed(3)}, ${cluster.loadInRange ? 'within' : 'OUTSIDE'} [${low}, ${high}]; ` +
    `spot share ${spotShare.toFixed(2)} from the ${args.environment} environment's config`,
);
console.log(
  `classes: seeded hash of row number, ${JSON.stringify(rule.classMix)}, seed ${rule.seed}; estimates: ${
    estimates === 'user'
      ? 'user limits (1 h, 4 h, 1 d, 7 d above duration / U(0.05, 1))'
      : 'PERFECT (true durations): an upper bound, not a result'
  }`,
);

// The single-round figure is taken first, in a heap as fresh as a dispatcher Lambda's.
const now = trace.lastSubmit;
const backlog = backloggedState(cluster.pools, cluster.teams, DECISION_PENDING_JOBS, now);
const decisionMs = medianRoundMs(new DrivetrainPolicy(drivetrainConfig), backlog, now, DECISION_ROUNDS);

const results: Record<string, PolicyMetrics & { waitsByTeamAndSize: ReturnType<typeof waitsByTeamAndSize> }> =
  {};
const waits: Record<string, number[]> = {};
const replayStart = performance.now();
for (const policy of policies) {
  const start = performance.now();
  const result = simulate(workload, policy, config);
  results[policy.name] = { ...metricsOf(result), waitsByTeamAndSize: waitsByTeamAndSize(result) };
  waits[policy.name] = result.outcomes.map((outcome) => outcome.waitS).sort((a, b) => a - b);
  console.log(
    `  replayed ${policy.name} in ${((performance.now() - start) / 1000).toFixed(1)} s (${result.rounds} rounds)`,
  );
}
const replayS = (performance.now() - replayStart) / 1000;

printTable(results);
printSizeClasses(results);
console.log(`replay of all policies: ${replayS.toFixed(1)} s`);
console.log(
  `one drivetrain round, ${DECISION_PENDING_JOBS} pending, ${cluster.teams.length} teams: ${decisionMs.toFixed(1)} ms (median of ${DECISION_ROUNDS})`,
);
const targets = results.drivetrain === undefined ? [] : checkTargets(results, decisionMs);

const report = {
  trace: {
    source,
    daysBeforeEnd: args['days-before-end'],
    lastDays: args['last-days'],
    busiestTeams: args['busiest-teams'],
    ...trace,
  },
  estimates,
  cluster: {
    capacityGpus: cluster.capacityGpus,
    offeredLoad: cluster.offeredLoad,
    loadRange: DEFAULT_SIZING.loadRange,
    loadInRange: cluster.loadInRange,
    spotShare,
    spotShareFrom: `config environment ${args.environment}`,
    pools: cluster.pools,
    teams: cluster.teams.length,
    teamRule: 'one team per trace cluster, weight 1, nominal quota = capacity / teams (largest remainder)',
    workloadRule: rule,
    checkpointIntervalS: config.checkpointIntervalS,
    restartOverheadS: config.restartOverheadS,
  },
  policies: results,
  drivetrainConfig,
  decision: { pending: DECISION_PENDING_JOBS, teams: cluster.teams.length, ms: decisionMs },
  replayS,
  targets,
};
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
const svgPath = `${args.out.replace(/\.json$/, '')}.svg`;
const series = Object.entries(waits).map(([name, sortedWaitsS]) => ({ name, sortedWaitsS }));
writeFileSync(
  svgPath,
  cdfSvg(series, `Queueing delay CDF, ${trace.jobs} jobs on ${cluster.capacityGpus} GPUs`),
);
console.log(`wrote ${args.out} and ${svgPath}`);

function hours(s: number): string {
  return (s / 3600).toFixed(2);
}

function printTable(metrics: Record<string, PolicyMetrics>): void {
  console.table(
    Object.fromEntries(
      Object.entries(metrics).map(([name, m]) => [
        name,
        {
          'avg JCT h': hours(m.avgJctS),
          'p50 wait h': hours(m.p50WaitS),
          'p99 wait h': hours(m.p99WaitS),
          'max wait h': hours(m.maxWaitS),
          'makespan d': (m.makespanS / DAY).toFixed(1),
          util: m.utilization.toFixed(3),
          jain: m.jain.toFixed(3),
          preemptions: m.preemptions,
          'by reason': Object.entries(m.preemptionsByReason)
            .map(([reason, count]) => `${reason} ${count}`)
            .join(', '),
        },
      ]),
    ),
  );
}

/** Per size class, the worst team's p99 and max wait (the full grid is in the JSON). */
function printSizeClasses(metrics: typeof results): void {
  console.log('worst team per size class: p99 wait h / max wait h');
  console.table(
    Object.fromEntries(
      Object.entries(metrics).map(([name, m]) => [
        name,
        Object.fromEntries(
          SIZE_CLASSES.map((size) => {
            const cells = Object.values(m.waitsByTeamAndSize).flatMap((bySize) => bySize[size] ?? []);
            const p99 = Math.max(0, ...cells.map((cell) => cell.p99WaitS));
            const max = Math.max(0, ...cells.map((cell) => cell.maxWaitS));
            return [size, `${hours(p99)} / ${hours(max)}`];
          }),
        ),
      ]),
    ),
  );
}

interface TargetCheck {
  readonly label: string;
  readonly value: number;
  readonly limit: number;
  readonly atMost: boolean;
  readonly met: boolean;
}

function checkTargets(metrics: Record<string, PolicyMetrics>, roundMs: number): TargetCheck[] {
  const dt = metrics.drivetrain!;
  const users = USER_BASELINES.flatMap((name) => metrics[name] ?? []);
  const baselines = Object.entries(metrics)
    .filter(([name]) => name !== 'drivetrain')
    .map(([, m]) => m);
  const checks: TargetCheck[] = [];
  const check = (label: string, value: number, limit: number, atMost: boolean) => {
    const met = atMost ? value <= limit + 1e-12 : value >= limit - 1e-12;
    checks.push({ label, value, limit, atMost, met });
    console.log(
      `  ${met ? 'met   ' : 'MISSED'} ${label}: ${value.toFixed(3)} (target ${atMost ? '≤' : '≥'} ${limit.toFixed(3)})`,
    );
  };
  console.log(`targets${estimates === 'perfect' ? ' (perfect estimates: upper bound only)' : ''}:`);
  if (users.length > 0) {
    check(
      'avg JCT / best of slurm, kueue, batch',
      dt.avgJctS / Math.min(...users.map((m) => m.avgJctS)),
      0.8,
      true,
    );
    check(
      'p99 wait / best of slurm, kueue, batch',
      dt.p99WaitS / Math.min(...users.map((m) => m.p99WaitS)),
      0.8,
      true,
    );
  }
  if (baselines.length > 0) {
    check(
      'max wait h vs best baseline',
      dt.maxWaitS / 3600,
      Math.min(...baselines.map((m) => m.maxWaitS)) / 3600,
      true,
    );
    check(
      'utilization vs best baseline',
      dt.utilization,
      Math.max(...baselines.map((m) => m.utilization)),
      false,
    );
  }
  check('jain', dt.jain, 0.9, false);
  check('decision round ms (100,000 pending)', roundMs, 50, true);
  return checks;
}
