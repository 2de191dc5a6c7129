/**
 * Seeded chaos test of the local platform (issue 8): a mixed workload (classes, gangs,
 * cancels, preemptions) on the real local runtime, with faults injected at seeded moments:
 * kill -9 of the platform and of dynalite, dropped, duplicated and reordered status reports,
 * transient and permanent backend errors, cancels racing dispatch, and a burst of status
 * reports while jobs run. Then it checks the invariants and writes
 * `{"jobs", "faults": {kind: n}, "violations": [...], "eventBurst": {"events", "eventsPerS", "roundP99Ms", "lost"}}`.
 *
 *   npm run chaos -- --seed 1 --jobs 200 --out bench/results/chaos-1.json [--burst 10000]
 *     [--spawn-window-crash 0.01]   (chance per attempt that the platform kills itself -9 between
 *                                   spawning the attempt and recording its pid)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LOCAL_TEAM_HEADER } from '../api/identity';
import type { JobView } from '../api/job-view';
import { environmentConfig } from '../config/environments';
import { type JobSpecInput, jobSpecSchema } from '../jobs/spec';
import { isTerminal } from '../jobs/states';
import { type FaultPlan, REFUSED_MESSAGE } from '../local/faults';
import type { RecordedProcess } from '../local/pid-files';
import type { PriorityClassName } from '../scheduler/priority-classes';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '200' },
    burst: { type: 'string', default: '10000' },
    'platform-kills': { type: 'string', default: '2' },
    'dynalite-kills': { type: 'string', default: '2' },
    'spawn-window-crash': { type: 'string', default: '0.01' },
    out: { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
  },
});
const seed = Number(values.seed);
const jobCount = Number(values.jobs);
const burstEvents = Number(values.burst);
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), `drivetrain-chaos-${seed}-`));
const ledger = join(dir, 'ledger');
const faultLog = join(dir, 'faults.jsonl');
const roundLog = join(dir, 'rounds.jsonl');
writeFileSync(ledger, '');
writeFileSync(faultLog, '');
writeFileSync(roundLog, '');

/** mulberry32: the workload and the moments of the faults, all from the seed. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = random(seed);
const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;

const plan: FaultPlan = {
  seed,
  logPath: faultLog,
  dropStatus: 0.1,
  duplicateStatus: 0.1,
  reorderStatuses: true,
  throttleSubmit: 0.05,
  loseSubmitResponse: 0.03,
  failTerminate: 0.1,
  refuseJob: 0.02,
  crashInSpawnWindow: Number(values['spawn-window-crash']),
  burst: { events: burstEvents, afterMs: 8_000 },
};
const driverFaults = new Map<string, number>();
const count = (kind: string) => driverFaults.set(kind, (driverFaults.get(kind) ?? 0) + 1);

// The platform as its own process, so it can be SIGKILLed and started again over its data.
let platform: { child: ChildProcess; url: string };
/** Set while the platform is started again after it killed itself (an injected fault inside it). */
let restarting: Promise<void> | undefined;
/** Platforms this test stopped itself, which it starts again itself. */
const stoppedByTest = new WeakSet<ChildProcess>();
async function startPlatform() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'local', 'serve.ts')], {
    cwd: root,
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --disable-warning=NodeVersionSupportWarning`,
      DRIVETRAIN_PORT: '0',
      DRIVETRAIN_DATA_DIR: join(dir, 'data'),
      DRIVETRAIN_DISPATCH_INTERVAL_MS: '300',
      DRIVETRAIN_DISPATCH_MIN_GAP_MS: '50',
      DRIVETRAIN_PREEMPTION_GRACE_S: '1',
      DRIVETRAIN_KILL_GRACE_MS: '500',
      DRIVETRAIN_RECONCILE_INTERVAL_S: '1',
      DRIVETRAIN_LOCAL_GPUS_PER_NODE: '4',
      DRIVETRAIN_LOCAL_NODES_PER_POOL: '2',
      DRIVETRAIN_FAULTS: JSON.stringify(plan),
      DRIVETRAIN_ROUND_LOG: roundLog,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`the platform exited with ${code} before serving`)));
  });
  platform = { child, url };
  child.once('exit', () => {
    if (!stoppedByTest.has(child)) restarting = startPlatform();
  });
}

/** The platform once it is up, after any restart that follows a crash inside it. */
async function livePlatform(): Promise<ChildProcess> {
  for (;;) {
    await restarting;
    const { child } = platform;
    if (child.exitCode === null && child.signalCode === null) return child;
    await sleep(50);
  }
}

async function call(method: string, path: string, team: string, body?: unknown) {
  const since = Date.now();
  for (let tries = 0; ; tries++) {
    try {
      const response = await fetch(`${platform.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', [LOCAL_TEAM_HEADER]: team },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // 503: the job store is restarting (a kill -9 the test made); the answer says to retry.
      if (response.status === 503 && tries < 100) {
        await sleep(200);
        continue;
      }
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    } catch (error) {
      // The platform is being restarted (after a kill -9, possibly several in a row): try again.
      if (Date.now() - since > 120_000) throw error;
      await sleep(100);
    }
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Planned {
  readonly team: string;
  readonly spec: JobSpecInput;
  readonly exitCode: number;
  readonly cancelAfterMs?: number;
  id?: string;
  cancel?: { status: number; state?: string };
}

function workload(): Planned[] {
  const { teams } = environmentConfig('dev');
  return Array.from({ length: jobCount }, (_, i) => {
    const team = pick(teams);
    // Each class as often as the team may use it: critical work is rarer.
    const priorityClass = pick(
      team.priorityClasses.flatMap((c) => (c === 'critical' ? [c] : [c, c])),
    ) as PriorityClassName;
    const gang = rand() < 0.1;
    const cpuOnly = !gang && rand() < 0.15;
    const exitCode = rand() < 0.08 ? 3 : 0;
    const seconds = (0.5 + rand() * 3).toFixed(2);
    const roll = rand();
    const cancelAfterMs =
      roll < 0.05 ? Math.floor(rand() * 30) : roll < 0.15 ? Math.floor(rand() * 4000) : undefined;
    const resources = gang
      ? { gpus: 4, gpuType: 'a100', cpus: 2, memoryMiB: 2048, nodes: 2 }
      : cpuOnly
        ? { gpus: 0, cpus: 1, memoryMiB: 512 }
        : { gpus: pick([1, 2, 4]), gpuType: 'a10g', cpus: 1, memoryMiB: 1024 };
    return {
      team: team.name,
      exitCode,
      cancelAfterMs,
      spec: {
        name: `chaos-${i}`,
        image: 'local',
        command: ['sh', join(root, 'bench', 'chaos', 'job.sh'), ledger, seconds, String(exitCode)],
        resources,
        priorityClass,
        retries: 3,
        // A submit that got no answer (a restart, a 503) is sent again: the key makes that safe.
        idempotencyKey: `chaos-${seed}-${i}`,
        tags: { chaos: String(seed) },
      },
    };
  });
}

/** Processes whose environment names one of the jobs: after the drain, each is a ghost. */
function jobProcesses(ids: ReadonlySet<string>): { pid: number; jobId: string }[] {
  const found: { pid: number; jobId: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const jobId = env.find((v) => v.startsWith('DRIVETRAIN_JOB_ID='))?.slice('DRIVETRAIN_JOB_ID='.length);
      if (jobId && ids.has(jobId)) found.push({ pid: Number(entry), jobId });
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

const jsonLines = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main() {
  const started = Date.now();
  const deadline = started + Number(values['timeout-s']) * 1000;
  await startPlatform();
  const jobs = workload();
  const violations: { invariant: string; job?: string; detail: string }[] = [];

  // Faults the test makes itself, at seeded moments within the first 30 s.
  const killAt = (n: number) =>
    Array.from({ length: n }, () => 3_000 + rand() * 27_000).sort((a, b) => a - b);
  const kills = [
    ...killAt(Number(values['platform-kills'])).map((at) => ({ at, what: 'platform' as const })),
    ...killAt(Number(values['dynalite-kills'])).map((at) => ({ at, what: 'dynalite' as const })),
  ].sort((a, b) => a.at - b.at);
  const killing = (async () => {
    for (const kill of kills) {
      await sleep(Math.max(0, started + kill.at - Date.now()));
      if (kill.what === 'platform') {
        const child = await livePlatform();
        stoppedByTest.add(child);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        count('platform-kill-9');
        await startPlatform();
      } else {
        try {
          const pid = JSON.parse(
            readFileSync(join(dir, 'data', 'run', 'dynalite.pid'), 'utf8'),
          ) as RecordedProcess;
          process.kill(pid.pid, 'SIGKILL');
          count('dynalite-kill-9');
        } catch {
          // between a restart and its pid file: no dynalite to kill this time
        }
      }
    }
  })();

  // Submissions over about 20 s, each cancel at its own moment (some within 30 ms: racing dispatch).
  const submitting = jobs.map(async (job, i) => {
    await sleep((i / jobs.length) * 20_000);
    const { status, body } = await call('POST', '/jobs', job.team, job.spec);
    if (status !== 201 && status !== 200) {
      violations.push({ invariant: 'submit accepted', detail: `${status} ${JSON.stringify(body)}` });
      return;
    }
    job.id = (body.job as JobView).id;
    if (job.cancelAfterMs !== undefined) {
      await sleep(job.cancelAfterMs);
      count(job.cancelAfterMs < 50 ? 'cancel-racing-dispatch' : 'cancel');
      const cancelled = await call('DELETE', `/jobs/${job.id}`, job.team);
      job.cancel = { status: cancelled.status, state: (cancelled.body.job as JobView | undefined)?.state };
    }
  });
  await Promise.all(submitting);
  await killing;

  // Drain: every job ends; meanwhile, a job process whose record ended long ago is a ghost.
  const ids = new Set(jobs.flatMap((j) => (j.id ? [j.id] : [])));
  const views = new Map<string, JobView>();
  for (;;) {
    for (const job of jobs) {
      if (!job.id || (views.get(job.id) && isTerminal(views.get(job.id)!.state))) continue;
      const { body } = await call('GET', `/jobs/${job.id}`, job.team);
      views.set(job.id, body.job as JobView);
    }
    const running = jobProcesses(ids);
    for (const { pid, jobId } of running) {
      const view = views.get(jobId);
      if (view?.endedAt && isTerminal(view.state) && Date.now() - Date.parse(view.endedAt) > 10_000) {
        violations.push({
          invariant: 'no ghost process',
          job: jobId,
          detail: `pid ${pid} runs; the job ended ${view.state}`,
        });
      }
    }
    if ([...views.values()].every((v) => isTerminal(v.state))) break;
    if (Date.now() > deadline) {
      for (const v of views.values())
        if (!isTerminal(v.state))
          violations.push({
            invariant: 'every job ends',
            job: v.id,
            detail: `still ${v.state} at the deadline`,
          });
      break;
    }
    await sleep(1000);
  }
  // Wait for the burst to be consumed if it came late.
  for (let i = 0; i < 60 && !jsonLines<{ kind: string }>(faultLog).some((f) => f.kind === 'event-burst'); i++)
    await sleep(500);
  await sleep(3_000);

  // Invariants.
  const faults = jsonLines<{ kind: string; jobId?: string; at: string; events?: number; tag?: string }>(
    faultLog,
  );
  const refused = new Set(faults.filter((f) => f.kind === 'submit-refused').map((f) => f.jobId));
  const lines = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
  const starts = new Map<string, number>();
  const ends = new Map<string, Set<string>>();
  for (const line of lines) {
    const [what, id, attempt, node] = line.split(' ') as [string, string, string, string];
    if (what === 'start')
      starts.set(`${id}/${attempt}/${node}`, (starts.get(`${id}/${attempt}/${node}`) ?? 0) + 1);
    else ends.set(id, (ends.get(id) ?? new Set()).add(attempt));
  }
  for (const [attempt, n] of starts)
    if (n > 1)
      violations.push({
        invariant: 'no duplicated backend job',
        job: attempt.split('/')[0],
        detail: `attempt ${attempt} started ${n} times`,
      });
  for (const job of jobs) {
    if (!job.id) continue;
    const view = views.get(job.id)!;
    const ran = ends.get(job.id) ?? new Set();
    const violation = (invariant: string, detail: string) =>
      violations.push({ invariant, job: job.id, detail });
    if (ran.size > 1) violation('ends exactly once', `ran to completion in attempts ${[...ran].join(', ')}`);
    const exhausted =
      view.state === 'FAILED' && /interrupted \d+ times, more than its/.test(view.stateReason ?? '');
    const cancelled = job.cancel?.status === 202;
    let justified: boolean;
    if (refused.has(job.id))
      justified = view.state === 'FAILED' && (view.stateReason ?? '').includes(REFUSED_MESSAGE);
    else if (view.state === 'CANCELLED') justified = cancelled;
    else if (view.state === 'SUCCEEDED') justified = job.exitCode === 0 && ran.has(String(view.attempt));
    else if (view.state === 'FAILED')
      justified =
        exhausted ||
        (job.exitCode !== 0 && view.exitCode === job.exitCode) ||
        /submit failed \d+ times/.test(view.stateReason ?? '');
    else justified = false;
    if (!justified)
      violation(
        'state justified by history',
        `${view.state} (${view.stateReason ?? ''}), exit ${view.exitCode}, cancel ${JSON.stringify(job.cancel)}, completions ${[...ran]}`,
      );
    // Stored jobs are intact: the spec reads back as submitted, and the record is consistent.
    const submitted = jobSpecSchema.parse(job.spec);
    if (JSON.stringify(view.spec) !== JSON.stringify(submitted) || view.team !== job.team)
      violation('no stored job corrupted', 'spec or team differs from the submission');
    if (isTerminal(view.state) && !view.endedAt)
      violation('no stored job corrupted', `${view.state} without endedAt`);
  }
  for (const { pid, jobId } of jobProcesses(ids))
    violations.push({ invariant: 'no ghost process', job: jobId, detail: `pid ${pid} outlives the drain` });
  const queues = (await call('GET', '/queues', 'perception')).body as {
    teams: { team: string; running: number; pending: number; gpusInUse: Record<string, number> }[];
    pools: { pool: string; gpusInUse: number }[];
  };
  for (const team of queues.teams)
    if (team.running !== 0 || team.pending !== 0 || Object.values(team.gpusInUse).some((g) => g !== 0))
      violations.push({
        invariant: 'books return to zero',
        detail: `team ${team.team}: ${JSON.stringify(team)}`,
      });
  for (const pool of queues.pools)
    if (pool.gpusInUse !== 0)
      violations.push({
        invariant: 'books return to zero',
        detail: `pool ${pool.pool}: ${pool.gpusInUse} GPUs`,
      });

  // The event burst: every report consumed (none lost), and how fast.
  const burst = faults.findLast((f) => f.kind === 'event-burst');
  const rounds = jsonLines<{
    at: number;
    ms: number;
    statuses: number;
    queued: number;
    burstApplied: Record<string, number>;
  }>(roundLog);
  let eventBurst = { events: 0, eventsPerS: 0, roundP99Ms: 0, lost: 0 };
  if (burst) {
    // The burst's window: from its injection until the round that applied its last report
    // (the worker counts them), and 10 s after, while the backlog it caused is worked off.
    const from = Date.parse(burst.at);
    const after = rounds.filter((r) => r.at >= from);
    let applied = 0;
    let last: (typeof rounds)[number] | undefined;
    for (const round of after) {
      applied += round.burstApplied[burst.tag!] ?? 0;
      if (applied >= burst.events!) {
        last = round;
        break;
      }
    }
    const until = last ? last.at + 10_000 : Number.POSITIVE_INFINITY;
    eventBurst = {
      events: burst.events!,
      eventsPerS: last ? Math.round(burst.events! / Math.max(0.001, (last.at - from) / 1000)) : 0,
      roundP99Ms: percentile(
        after.filter((r) => r.at <= until).map((r) => r.ms),
        99,
      ),
      lost: Math.max(0, burst.events! - applied),
    };
    if (eventBurst.lost > 0)
      violations.push({ invariant: 'no event lost', detail: `${eventBurst.lost} of the burst unapplied` });
  } else {
    violations.push({ invariant: 'event burst ran', detail: 'no burst was recorded' });
  }

  const faultCounts: Record<string, number> = Object.fromEntries(driverFaults);
  for (const f of faults) if (f.kind !== 'event-burst') faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
  const result = { jobs: ids.size, faults: faultCounts, violations, eventBurst };

  const last = await livePlatform();
  stoppedByTest.add(last);
  const stopped = new Promise((resolve) => last.once('exit', resolve));
  last.kill('SIGTERM');
  await stopped;
  const text = JSON.stringify(result, null, 2);
  if (values.out) {
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, `${text}\n`);
  }
  console.log(text);
  console.log(
    `chaos seed ${seed}: ${violations.length} violations in ${Math.round((Date.now() - started) / 1000)} s (data in ${dir})`,
  );
  if (violations.length === 0) rmSync(dir, { recursive: true, force: true });
  process.exit(violations.length === 0 ? 0 : 1);
}

await main();
