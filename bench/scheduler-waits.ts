/**
 * Where the longest waits come from: replays a trace window under Drivetrain and a baseline,
 * and for the jobs with the top 1% of Drivetrain's waits reports their shape and class, how
 * often they were preempted, and how their pending time splits by what each round said held
 * them (their own starvation or EASY hold, or the reason code of the round that left them
 * waiting), before and after they passed the starvation bound.
 * Usage: npx tsx bench/scheduler-waits.ts [--trace path.csv] [--last-days N] [--days-before-end N]
 *   [--baseline kueue] [--drivetrain-config JSON]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitingSince } from '../scheduler/drivetrain/pending-index';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import type { ClusterState, Job } from '../scheduler/model';
import type { Decision, PolicySession, RoundOptions, SchedulingPolicy } from '../scheduler/policy';
import { FifoPolicy } from '../simulator/baselines/fifo';
import { KueuePolicy } from '../simulator/baselines/kueue';
import { simulate } from '../simulator/engine';
import { metricsOf, quantile, sizeClassOf } from '../simulator/metrics';
import { readTrace } from '../simulator/trace';
import { mergeConfig } from './merge-config';
import { replaySetup, traceWindow } from './trace-replay';

const DAY = 86_400;
const HOUR = 3600;
const { values: args } = parseArgs({
  options: {
    /** Whole trace: --last-days 0 --days-before-end 0 reads every row. */
    trace: { type: 'string', default: join(import.meta.dirname, '../../shared/data/traces/philly.csv') },
    'last-days': { type: 'string', default: '30' },
    'days-before-end': { type: 'string', default: '0' },
    baseline: { type: 'string', default: 'kueue' },
    'drivetrain-config': { type: 'string' },
    /** Skip the why-pending pass over every pending job each round (for long traces). */
    'no-reasons': { type: 'boolean', default: false },
  },
});

const lastDays = args['last-days'] === '0' ? undefined : args['last-days'];
const records = traceWindow(readTrace(args.trace), lastDays, undefined, args['days-before-end']);
const { trace, cluster, workload, config } = replaySetup(records, 'prod', 'user');
const jobs = new Map(workload.map((w) => [w.job.id, w]));

/** Per job: pending seconds by what held it, preemptions suffered, first start. */
interface JobLog {
  byCause: Map<string, number>;
  preempted: Map<string, number>;
  firstStart?: number;
}

/** Starvation holds: first round seen, the start first promised, when the job started. */
const holdsSeen = new Map<string, { from: number; firstUntil: number; gpus: number; startedAt?: number }>();
const starvingSamples: number[] = [];

/** Wraps a policy and records, between rounds, why each pending job was still pending. */
class Recorder implements SchedulingPolicy {
  readonly name: string;
  readonly logs = new Map<string, JobLog>();
  constructor(private readonly inner: SchedulingPolicy) {
    this.name = inner.name;
  }
  decide(state: ClusterState, now: number): Decision {
    return this.inner.decide(state, now);
  }
  open(state: ClusterState): PolicySession {
    const session = this.inner.open(state);
    const logs = this.logs;
    const log = (id: string) => {
      let entry = logs.get(id);
      if (entry === undefined) {
        entry = { byCause: new Map(), preempted: new Map() };
        logs.set(id, entry);
      }
      return entry;
    };
    const pendingSince = new Map<string, Job>();
    let lastRound: number | undefined;
    let causes = new Map<string, string>();
    const boundS = DEFAULT_DRIVETRAIN_CONFIG.starvation.boundS;
    return {
      submit: (job) => {
        pendingSince.set(job.id, job);
        session.submit(job);
      },
      withdraw: (id) => session.withdraw(id),
      finish: (id) => session.finish(id),
      checkpointed: (id, at) => session.checkpointed(id, at),
      decide: (now: number, _options?: RoundOptions) => {
        if (lastRound !== undefined) {
          for (const [id, cause] of causes) {
            const entry = log(id).byCause;
            entry.set(cause, (entry.get(cause) ?? 0) + now - lastRound);
          }
        }
        const decision = session.decide(now, { explain: !args['no-reasons'] });
        for (const start of decision.starts) {
          pendingSince.delete(start.jobId);
          const seen = holdsSeen.get(start.jobId);
          if (seen !== undefined && seen.startedAt === undefined) seen.startedAt = now;
          const entry = log(start.jobId);
          entry.firstStart ??= now;
        }
        for (const p of decision.preemptions) {
          const entry = log(p.jobId).preempted;
          entry.set(p.reason, (entry.get(p.reason) ?? 0) + 1);
        }
        const holders = new Map(
          (decision.carriedHolds ?? []).map((r) => [r.jobId, r.starving ? 'hold:starving' : 'hold:easy']),
        );
        for (const r of decision.carriedHolds ?? []) {
          if (!r.starving) continue;
          const seen = holdsSeen.get(r.jobId);
          if (seen === undefined) holdsSeen.set(r.jobId, { from: now, firstUntil: r.untilS, gpus: 0 });
        }
        let starvingNow = 0;
        for (const job of pendingSince.values()) if (now - waitingSince(job) >= boundS) starvingNow++;
        starvingSamples.push(starvingNow);
        causes = new Map();
        // Without reasons, jobs the round did not look at count as `unscanned`.
        for (const [id, job] of pendingSince) {
          if (args['no-reasons'])
            causes.set(
              id,
              `${now - waitingSince(job) >= boundS ? '>bound' : '<bound'} ${holders.get(id) ?? 'unscanned'}`,
            );
        }
        for (const w of decision.waiting) {
          const job = pendingSince.get(w.jobId);
          const past = job !== undefined && now - waitingSince(job) >= boundS ? '>bound' : '<bound';
          causes.set(w.jobId, `${past} ${holders.get(w.jobId) ?? w.reason.code}`);
        }
        lastRound = now;
        return decision;
      },
    };
  }
}

const baseline: SchedulingPolicy = args.baseline === 'fifo' ? new FifoPolicy() : new KueuePolicy();
const drivetrainConfig = mergeConfig(
  DEFAULT_DRIVETRAIN_CONFIG,
  JSON.parse(args['drivetrain-config'] ?? '{}'),
);
const recorder = new Recorder(new DrivetrainPolicy(drivetrainConfig));
const dt = simulate(workload, recorder, config);
const base = simulate(workload, baseline, config);
const baseWait = new Map(base.outcomes.map((o) => [o.id, o.waitS]));
console.log(
  `window: ${records.length} jobs, ${trace.teams} teams, ${(trace.spanS / DAY).toFixed(1)} days, ${cluster.capacityGpus} GPUs, offered load ${cluster.offeredLoad.toFixed(3)}`,
);
for (const [name, r] of [
  ['drivetrain', dt],
  [baseline.name, base],
] as const) {
  const m = metricsOf(r);
  console.log(
    `${name}: JCT ${(m.avgJctS / HOUR).toFixed(2)} h, p99 ${(m.p99WaitS / HOUR).toFixed(1)} h, max ${(m.maxWaitS / HOUR).toFixed(1)} h, util ${m.utilization.toFixed(3)}, preemptions ${m.preemptions}`,
  );
}

const sorted = [...dt.outcomes].sort((a, b) => b.waitS - a.waitS);
const top = sorted.slice(0, Math.max(1, Math.ceil(sorted.length * 0.01)));
const p99 = quantile(
  dt.outcomes.map((o) => o.waitS).sort((a, b) => a - b),
  0.99,
);
console.log(
  `\ntop 1%: ${top.length} jobs, waits ${(p99 / HOUR).toFixed(1)}-${(top[0]!.waitS / HOUR).toFixed(1)} h`,
);
const tally = (key: (id: string) => string) => {
  const counts = new Map<string, { n: number; dtWait: number; baseWait: number }>();
  for (const o of top) {
    const k = key(o.id);
    const c = counts.get(k) ?? { n: 0, dtWait: 0, baseWait: 0 };
    c.n++;
    c.dtWait += o.waitS;
    c.baseWait += baseWait.get(o.id) ?? 0;
    counts.set(k, c);
  }
  return Object.fromEntries(
    [...counts]
      .sort((a, b) => b[1].n - a[1].n)
      .map(([k, c]) => [
        k,
        {
          jobs: c.n,
          'mean wait h (drivetrain)': (c.dtWait / c.n / HOUR).toFixed(1),
          [`mean wait h (${baseline.name})`]: (c.baseWait / c.n / HOUR).toFixed(1),
        },
      ]),
  );
};
const jobOf = (id: string) => jobs.get(id)!.job;
console.log('by team × size:');
console.table(tally((id) => `${jobOf(id).team} ${sizeClassOf(jobOf(id).resources.gpus)}`));
console.log('by class:');
console.table(tally((id) => jobOf(id).priorityClass));
console.log('by limit (maxRuntimeS):');
console.table(tally((id) => `${jobOf(id).maxRuntimeS / HOUR} h`));
console.log('by times preempted:');
console.table(
  tally((id) => {
    const p = recorder.logs.get(id)?.preempted;
    return p === undefined || p.size === 0
      ? 'never'
      : [...p].map(([reason, n]) => `${reason} ${Math.min(n, 3)}${n > 3 ? '+' : ''}`).join(', ');
  }),
);
const causeTotals = new Map<string, number>();
let firstStartWait = 0;
for (const o of top) {
  for (const [cause, s] of recorder.logs.get(o.id)?.byCause ?? [])
    causeTotals.set(cause, (causeTotals.get(cause) ?? 0) + s);
  const first = recorder.logs.get(o.id)?.firstStart;
  if (first !== undefined) firstStartWait += first - jobOf(o.id).submitTime;
}
const allPending = [...causeTotals.values()].reduce((a, b) => a + b, 0);
console.log(
  `pending time of the top 1% (${(allPending / HOUR).toFixed(0)} job-hours; ${((firstStartWait / allPending) * 100).toFixed(0)}% before the first start), by what the round said:`,
);
console.table(
  Object.fromEntries(
    [...causeTotals]
      .sort((a, b) => b[1] - a[1])
      .map(([cause, s]) => [
        cause,
        { 'job-hours': (s / HOUR).toFixed(0), share: `${((s / allPending) * 100).toFixed(1)}%` },
      ]),
  ),
);
// Whole-population comparison per size class: where drivetrain's tail sits against the baseline's.
const bySize = (r: typeof dt) => {
  const m = new Map<string, number[]>();
  for (const o of r.outcomes) {
    const k = `${sizeClassOf(o.gpus)} ${jobOf(o.id).priorityClass}`;
    m.set(k, [...(m.get(k) ?? []), o.waitS]);
  }
  return m;
};
const dtSize = bySize(dt);
const baseSize = bySize(base);
console.log('p99 / max wait h by size × class, all jobs:');
console.table(
  Object.fromEntries(
    [...dtSize.keys()].sort().map((k) => {
      const a = dtSize.get(k)!.sort((x, y) => x - y);
      const b = (baseSize.get(k) ?? []).sort((x, y) => x - y);
      return [
        k,
        {
          jobs: a.length,
          'drivetrain p99/max': `${(quantile(a, 0.99) / HOUR).toFixed(1)} / ${((a[a.length - 1] ?? 0) / HOUR).toFixed(1)}`,
          [`${baseline.name} p99/max`]: `${(quantile(b, 0.99) / HOUR).toFixed(1)} / ${((b[b.length - 1] ?? 0) / HOUR).toFixed(1)}`,
        },
      ];
    }),
  ),
);

const holdRows = [...holdsSeen.values()].filter((h) => h.startedAt !== undefined);
const promised = holdRows.map((h) => (h.firstUntil - h.from) / HOUR).sort((a, b) => a - b);
const taken = holdRows.map((h) => (h.startedAt! - h.from) / HOUR).sort((a, b) => a - b);
const early = holdRows.map((h) => (h.firstUntil - h.startedAt!) / HOUR).sort((a, b) => a - b);
console.log(
  `starvation holds: ${holdRows.length}; hold to start h p50/p90/max ${[0.5, 0.9, 1].map((q) => quantile(taken, q).toFixed(1)).join('/')}; ` +
    `first promised h p50/p90/max ${[0.5, 0.9, 1].map((q) => quantile(promised, q).toFixed(1)).join('/')}; ` +
    `started before the promise by h p10/p50 ${[0.1, 0.5].map((q) => quantile(early, q).toFixed(1)).join('/')}`,
);
const st = [...starvingSamples].sort((a, b) => a - b);
console.log(
  `jobs past the starvation bound, per round: mean ${(st.reduce((a, b) => a + b, 0) / Math.max(1, st.length)).toFixed(1)}, p50 ${quantile(st, 0.5)}, p90 ${quantile(st, 0.9)}, max ${st[st.length - 1]}`,
);
