import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { attemptLogPath, LocalProcessBackend } from '../../backends/local-process';
import type { BackendJobStatus, BackendSubmission } from '../../jobs/ports';
import type { JobSpecInput } from '../../jobs/spec';
import { JOB_ID, submission } from './fixtures';

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'INTERRUPTED']);

/** What onStatus received, with a way to wait for an attempt's last word. */
class StatusLog {
  readonly all: BackendJobStatus[] = [];
  private readonly waiting: (() => void)[] = [];

  readonly onStatus = (status: BackendJobStatus) => {
    this.all.push(status);
    for (const wake of this.waiting.splice(0)) wake();
  };

  async ended(name: string): Promise<BackendJobStatus> {
    for (;;) {
      const last = this.all.find((s) => s.name === name && ENDED.has(s.state));
      if (last) return last;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  statesOf(name: string): string[] {
    return this.all.filter((s) => s.name === name).map((s) => s.state);
  }
}

let logDir: string;
let statuses: StatusLog;
let backend: LocalProcessBackend;

beforeEach(() => {
  logDir = mkdtempSync(join(tmpdir(), 'drivetrain-local-'));
  statuses = new StatusLog();
  backend = new LocalProcessBackend({
    logDir,
    onStatus: statuses.onStatus,
    gpusPerNode: 4,
    killGraceMs: 300,
  });
});
afterEach(() => rmSync(logDir, { recursive: true, force: true }));

/** An attempt that runs `script` with this Node binary; no shell involved. */
function nodeJob(script: string, spec: Partial<JobSpecInput> = {}, id = JOB_ID): BackendSubmission {
  return submission({
    id,
    spec: {
      command: [process.execPath, '-e', script],
      args: [],
      resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 512 },
      ...spec,
    },
    dispatch: { backend: 'local' },
  });
}

const logOf = (attempt: BackendSubmission) =>
  readFileSync(backend.logPath(attempt.job.id, attempt.job.attempt), 'utf8');

async function logContains(attempt: BackendSubmission, text: string): Promise<void> {
  for (;;) {
    try {
      if (logOf(attempt).includes(text)) return;
    } catch {
      // not created yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Running, not a zombie: a job is a grandchild (under backends/exit-recorder.mjs) when the runtime keeps records. */
function isAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('LocalProcessBackend', () => {
  test('runs a command to success and logs its output to the attempt log', async () => {
    // GIVEN
    const attempt = nodeJob("console.log('hello from', process.env.DRIVETRAIN_JOB_ID)");

    // WHEN
    const { backendJobId } = await backend.submit(attempt);
    const ended = await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(backendJobId).toBe(attempt.dispatch.name);
    expect(ended).toEqual({ name: attempt.dispatch.name, backendJobId, state: 'SUCCEEDED', exitCode: 0 });
    expect(statuses.statesOf(attempt.dispatch.name)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(logOf(attempt)).toBe(`hello from ${JOB_ID}\n`);
    expect(backend.logPath(JOB_ID, 1)).toBe(join(logDir, JOB_ID, 'attempt-1.log'));
  });

  test('reports a command that exits with code 3 as FAILED with exit code 3', async () => {
    // GIVEN
    const attempt = nodeJob("console.error('diverged'); process.exit(3)");

    // WHEN
    await backend.submit(attempt);
    const ended = await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(ended).toMatchObject({ state: 'FAILED', exitCode: 3, reason: 'the process exited with code 3' });
    expect(logOf(attempt)).toBe('diverged\n');
  });

  test('starts a gang of 2 with node index, rendezvous and the GPU slots of each placed node', async () => {
    // GIVEN two 2-GPU members placed on nodes 0 and 1 of a pool of 4-slot nodes
    const script = `const e = process.env; console.log(JSON.stringify({ job: e.DRIVETRAIN_JOB_ID, attempt: e.DRIVETRAIN_ATTEMPT,
      node: e.DRIVETRAIN_NODE_INDEX, nodes: e.DRIVETRAIN_NUM_NODES, addr: e.MASTER_ADDR, port: e.MASTER_PORT,
      gpus: e.CUDA_VISIBLE_DEVICES, user: e.WANDB_MODE }))`;
    const attempt = nodeJob(script, {
      resources: { gpus: 2, gpuType: 'a10g', cpus: 1, memoryMiB: 512, nodes: 2 },
    });

    // WHEN
    await backend.submit(attempt);
    await statuses.ended(attempt.dispatch.name);

    // THEN each line carries its node prefix
    const lines = logOf(attempt).trim().split('\n').sort();
    expect(lines.map((l) => l.slice(0, 9))).toEqual(['[node 0] ', '[node 1] ']);
    const [node0, node1] = lines.map((l) => JSON.parse(l.slice(9)));
    const common = { job: JOB_ID, attempt: '1', nodes: '2', addr: '127.0.0.1', user: 'offline' };
    expect(node0).toEqual({ ...common, node: '0', port: node0.port, gpus: '0,1' });
    expect(node1).toEqual({ ...common, node: '1', port: node0.port, gpus: '4,5' });
    expect(Number(node0.port)).toBeGreaterThan(0);
  });

  test('fails a gang as soon as one node fails, stopping the others', async () => {
    // GIVEN node 1 fails at once while node 0 would run for a minute
    const script =
      "if (process.env.DRIVETRAIN_NODE_INDEX === '1') process.exit(3); setTimeout(() => {}, 60_000)";
    const attempt = nodeJob(script, {
      resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 512, nodes: 2 },
    });

    // WHEN
    const started = Date.now();
    await backend.submit(attempt);
    const ended = await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(ended).toMatchObject({ state: 'FAILED', exitCode: 3, reason: 'node 1 exited with code 3' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('preempts with SIGTERM, then SIGKILLs a process that ignores it after the grace period', async () => {
    // GIVEN
    const script = `process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
      console.log('pid', process.pid); setInterval(() => {}, 1000)`;
    const attempt = nodeJob(script);
    await backend.submit(attempt);
    await logContains(attempt, 'pid');
    const pid = Number(/pid (\d+)/.exec(logOf(attempt))?.[1]);

    // WHEN
    const started = Date.now();
    await backend.terminate(attempt.dispatch, 'preempted for job-b');

    // THEN
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(isAlive(pid)).toBe(false);
    expect(logOf(attempt)).toContain('ignoring SIGTERM');
    expect(await statuses.ended(attempt.dispatch.name)).toMatchObject({
      state: 'INTERRUPTED',
      reason: 'preempted for job-b',
    });
  });

  test('reports a cancel as FAILED with its reason, and a second terminate is a no-op', async () => {
    // GIVEN
    const attempt = nodeJob('setInterval(() => {}, 1000)');
    await backend.submit(attempt);

    // WHEN
    await backend.terminate(attempt.dispatch, 'cancelled by user');
    await backend.terminate(attempt.dispatch, 'cancelled by user');

    // THEN
    expect(statuses.statesOf(attempt.dispatch.name)).toEqual(['RUNNING', 'FAILED']);
    expect(await statuses.ended(attempt.dispatch.name)).toMatchObject({ reason: 'cancelled by user' });
  });

  test('runs an attempt once however often it is submitted', async () => {
    // GIVEN
    const attempt = nodeJob("console.log('ran'); setTimeout(() => {}, 200)");

    // WHEN
    const ids = await Promise.all([backend.submit(attempt), backend.submit(attempt)]);
    const later = await backend.submit(attempt);
    await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(new Set([...ids, later].map((r) => r.backendJobId))).toEqual(new Set([attempt.dispatch.name]));
    expect(logOf(attempt)).toBe('ran\n');
    expect(statuses.statesOf(attempt.dispatch.name)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(await backend.findByName(attempt.dispatch)).toEqual({ backendJobId: attempt.dispatch.name });
  });

  test('reports a missing executable as FAILED with the reason instead of throwing', async () => {
    // GIVEN
    const attempt = submission({
      spec: { command: ['/nonexistent/drivetrain-train'] },
      dispatch: { backend: 'local' },
    });

    // WHEN
    await backend.submit(attempt);
    const ended = await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(ended).toMatchObject({
      state: 'FAILED',
      reason: expect.stringMatching(/cannot run \/nonexistent\/drivetrain-train: .*ENOENT/),
    });
  });

  test('gives concurrent attempts on one node distinct GPU slots and refuses, for now, one that does not fit', async () => {
    // GIVEN a node of 4 slots and three 2-GPU attempts on it
    const script = 'console.log(process.env.CUDA_VISIBLE_DEVICES); setInterval(() => {}, 1000)';
    const attempts = ['0a', '0b', '0c'].map((suffix) =>
      nodeJob(
        script,
        { resources: { gpus: 2, gpuType: 'a10g', cpus: 1, memoryMiB: 512 } },
        `${JOB_ID.slice(0, -2)}${suffix}`,
      ),
    );

    // WHEN
    const [first, second, third] = attempts as [BackendSubmission, BackendSubmission, BackendSubmission];
    await backend.submit(first);
    await backend.submit(second);
    const refusal = await backend.submit(third).catch((error: unknown) => error);
    await Promise.all([logContains(first, '\n'), logContains(second, '\n')]);

    // THEN the third is refused with an error that can pass (the dispatcher tries it again later)
    expect([logOf(first), logOf(second)]).toEqual(['0,1\n', '2,3\n']);
    expect(refusal).toMatchObject({
      name: 'InsufficientCapacity',
      message: 'node 0 of pool a10g-on-demand has 0 free GPU slots; the job needs 2',
      $retryable: {},
    });
    expect(await backend.findByName(third.dispatch)).toBeUndefined();
    await Promise.all([first, second].map((a) => backend.terminate(a.dispatch, 'cancelled by user')));
  });

  test('shuts down by preempting every running attempt, so none outlives the runtime', async () => {
    // GIVEN
    const attempts = ['1a', '1b'].map((suffix) =>
      nodeJob('setInterval(() => {}, 1000)', {}, `${JOB_ID.slice(0, -2)}${suffix}`),
    );
    for (const attempt of attempts) await backend.submit(attempt);

    // WHEN
    await backend.shutdown();

    // THEN
    for (const attempt of attempts) {
      expect(await statuses.ended(attempt.dispatch.name)).toMatchObject({
        state: 'INTERRUPTED',
        reason: 'preempted: the local runtime shut down',
      });
    }
  });

  test('knows only the attempts it started', async () => {
    // GIVEN / WHEN / THEN
    await expect(backend.findByName(nodeJob('').dispatch)).resolves.toBeUndefined();
  });
});

describe('LocalProcessBackend limits and environment', () => {
  test('stops an attempt that runs past its maxRuntimeS: FAILED, "timed out"', async () => {
    // GIVEN an attempt limited to half a second (the spec's minimum is 60 s; the backend takes any)
    const base = nodeJob('setInterval(() => {}, 1000)');
    const attempt = { ...base, job: { ...base.job, spec: { ...base.job.spec, maxRuntimeS: 0.5 } } };

    // WHEN
    const started = Date.now();
    await backend.submit(attempt);
    const ended = await statuses.ended(attempt.dispatch.name);

    // THEN
    expect(ended).toMatchObject({ state: 'FAILED', reason: 'timed out' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("gives a job a minimal environment, never the runtime's own (no credentials)", async () => {
    // GIVEN a runtime with secrets in its environment
    process.env.AWS_SECRET_ACCESS_KEY = 'do-not-leak';
    const attempt = nodeJob('console.log(JSON.stringify(Object.keys(process.env).sort()))');

    // WHEN
    try {
      await backend.submit(attempt);
      await statuses.ended(attempt.dispatch.name);
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }

    // THEN
    const names = JSON.parse(logOf(attempt)) as string[];
    expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(names.filter((n) => !n.startsWith('DRIVETRAIN_'))).toEqual(
      expect.arrayContaining(['CUDA_VISIBLE_DEVICES', 'MASTER_ADDR', 'MASTER_PORT', 'WANDB_MODE']),
    );
    for (const name of names) {
      expect(name).toMatch(
        /^(DRIVETRAIN_\w+|CUDA_VISIBLE_DEVICES|MASTER_ADDR|MASTER_PORT|WANDB_MODE|PATH|HOME|USER|LOGNAME|SHELL|LANG|LC_ALL|LC_CTYPE|TZ|TMPDIR)$/,
      );
    }
  });
});

describe('LocalProcessBackend across a crash of the runtime', () => {
  let runDir: string;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'drivetrain-run-'));
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  const withRecords = (onStatus = statuses.onStatus) =>
    new LocalProcessBackend({ logDir, runDir, onStatus, gpusPerNode: 4, killGraceMs: 300 });

  test('reconcile reports running and ended attempts, so a lost status report is repaired', async () => {
    // GIVEN a backend whose reports all go nowhere
    const deaf = withRecords(() => undefined);
    const long = nodeJob('setInterval(() => {}, 1000)', {}, `${JOB_ID.slice(0, -2)}2a`);
    const short = nodeJob('process.exit(0)', {}, `${JOB_ID.slice(0, -2)}2b`);
    await deaf.submit(long);
    await deaf.submit(short);
    await new Promise((resolve) => setTimeout(resolve, 500));

    // WHEN
    const known = await deaf.reconcile([long.dispatch, short.dispatch, nodeJob('').dispatch]);

    // THEN
    expect(known.get(long.dispatch.name)).toMatchObject({ state: 'RUNNING' });
    expect(known.get(short.dispatch.name)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    expect(known.has(nodeJob('').dispatch.name)).toBe(false);
    await deaf.terminate(long.dispatch, 'cancelled by user');
  });

  test('a restarted runtime kills what the last one left running, and reports those attempts INTERRUPTED', async () => {
    // GIVEN an attempt started by a runtime that then died without cleaning up
    const before = withRecords(() => undefined);
    const attempt = nodeJob("console.log('pid', process.pid); setInterval(() => {}, 1000)");
    await before.submit(attempt);
    await logContains(attempt, 'pid');
    const pid = Number(/pid (\d+)/.exec(logOf(attempt))?.[1]);

    // WHEN a new lifetime starts over the same records
    const after = withRecords();
    const reaped = await after.recover();
    const known = await after.reconcile([attempt.dispatch]);

    // THEN
    expect(reaped).toEqual([attempt.dispatch.name]);
    expect(isAlive(pid)).toBe(false);
    expect(known.get(attempt.dispatch.name)).toMatchObject({
      state: 'INTERRUPTED',
      reason: 'interrupted: the local runtime stopped while the attempt ran',
    });
    // An attempt of an earlier lifetime is found by name and never run a second time.
    expect(await after.findByName(attempt.dispatch)).toEqual({ backendJobId: attempt.dispatch.name });
    await after.submit(attempt);
    expect(statuses.statesOf(attempt.dispatch.name)).toEqual([]);
  });
});

/**
 * A runtime in its own process, so a test can SIGKILL it for real: it starts `attempt` and
 * says "submitted". `afterSpawn` is the body of the backend's fault hook, run between the
 * spawn of the attempt's recorders and the record of their pids.
 */
function runtimeProcess(runDir: string, attempt: BackendSubmission, afterSpawn = ''): ChildProcess {
  const options = JSON.stringify({ logDir, runDir, gpusPerNode: 4, killGraceMs: 300 }).slice(0, -1);
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { existsSync } from 'node:fs';
       import { LocalProcessBackend } from './backends/local-process.ts';
       const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
       const backend = new LocalProcessBackend(${options}, onStatus: () => undefined,
         afterSpawn: () => { ${afterSpawn} } });
       await backend.submit(${JSON.stringify(attempt)});
       console.log('submitted');
       setInterval(() => {}, 1000);`,
    ],
    { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

const withRecordsIn = (runDir: string) =>
  new LocalProcessBackend({ logDir, runDir, onStatus: statuses.onStatus, gpusPerNode: 4, killGraceMs: 300 });

const exited = (child: ChildProcess) =>
  new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve),
  );

async function until<T>(what: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('LocalProcessBackend killed by SIGKILL between spawning an attempt and recording its pid', () => {
  let runDir: string;
  let ledger: string;
  let go: string;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'drivetrain-run-'));
    ledger = join(runDir, 'ledger');
    go = join(runDir, 'go');
    writeFileSync(ledger, '');
  });
  afterEach(() => {
    // A failed test must not leave a frozen recorder behind.
    const pids = started();
    if (pids) for (const pid of [pids.recorder, pids.job]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  });

  /** Says "start <recorder pid> <pid>" in the ledger, then "end" after 4 s of work. */
  const ledgerJob = () =>
    nodeJob(
      `const { appendFileSync } = require('node:fs');
       appendFileSync(${JSON.stringify(ledger)}, 'start ' + process.ppid + ' ' + process.pid + '\\n');
       setTimeout(() => { appendFileSync(${JSON.stringify(ledger)}, 'end\\n'); process.exit(0); }, 4000);`,
    );
  const started = () => {
    const match = /start (\d+) (\d+)/.exec(readFileSync(ledger, 'utf8'));
    return match ? { recorder: Number(match[1]), job: Number(match[2]) } : undefined;
  };
  /** The hook: once the test writes `path`, the runtime SIGKILLs itself, before the pid write. */
  const dieWhenTold = (path: string) =>
    `while (!existsSync(${JSON.stringify(path)})) pause(20); process.kill(process.pid, 'SIGKILL');`;

  test('recover() finds and kills the unrecorded attempt before calling it interrupted, so it never completes', async () => {
    // GIVEN a runtime killed in the window, its job running, and its recorder frozen (SIGSTOP):
    // only recover() can stop the job
    const attempt = ledgerJob();
    const runtime = runtimeProcess(runDir, attempt, dieWhenTold(go));
    const pids = await until(started);
    process.kill(pids.recorder, 'SIGSTOP');
    writeFileSync(go, '');
    await exited(runtime);
    expect(JSON.parse(readFileSync(join(runDir, `${attempt.dispatch.name}.json`), 'utf8'))).toMatchObject({
      processes: [],
    });

    // WHEN a new lifetime starts over the same records
    const after = withRecordsIn(runDir);
    const reaped = await after.recover();
    const known = await after.reconcile([attempt.dispatch]);

    // THEN the attempt is interrupted, its processes are gone, and it does not finish later
    expect(reaped).toEqual([attempt.dispatch.name]);
    expect(known.get(attempt.dispatch.name)).toMatchObject({ state: 'INTERRUPTED' });
    expect(isAlive(pids.recorder)).toBe(false);
    expect(isAlive(pids.job)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(readFileSync(ledger, 'utf8')).not.toContain('end');
    // The name is known and never run a second time.
    expect(await after.findByName(attempt.dispatch)).toEqual({ backendJobId: attempt.dispatch.name });
    await after.submit(attempt);
    expect(statuses.statesOf(attempt.dispatch.name)).toEqual([]);
  }, 30_000);

  test('a recorder whose runtime dies stops its job at once and records that it was orphaned', async () => {
    // GIVEN a runtime killed in the window while its job runs
    const attempt = ledgerJob();
    const runtime = runtimeProcess(runDir, attempt, dieWhenTold(go));
    const pids = await until(started);
    writeFileSync(go, '');
    await exited(runtime);

    // WHEN nothing else happens (no new lifetime, no reaper)
    const exitFile = join(runDir, `${attempt.dispatch.name}.node-0.exit`);
    const recorded = await until(
      () => (existsSync(exitFile) ? readFileSync(exitFile, 'utf8') : undefined),
      1_000,
    );

    // THEN the job was stopped by its recorder (SIGTERM, its default action) well before its end
    expect(JSON.parse(recorded)).toEqual({ orphaned: true, code: null, signal: 'SIGTERM' });
    await until(() => (isAlive(pids.job) || isAlive(pids.recorder) ? undefined : true), 1_000);
    const after = withRecordsIn(runDir);
    expect(await after.recover()).toEqual([attempt.dispatch.name]);
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(readFileSync(ledger, 'utf8')).not.toContain('end');
  }, 30_000);

  test('a recorder that starts after its runtime died never starts the job', async () => {
    // GIVEN a runtime killed the instant its recorder is spawned
    const attempt = ledgerJob();
    const runtime = runtimeProcess(runDir, attempt, "process.kill(process.pid, 'SIGKILL');");
    await exited(runtime);

    // WHEN its recorder comes up
    const exitFile = join(runDir, `${attempt.dispatch.name}.node-0.exit`);
    const recorded = await until(() => (existsSync(exitFile) ? readFileSync(exitFile, 'utf8') : undefined));

    // THEN it records that it was orphaned, and the job never ran
    expect(JSON.parse(recorded)).toEqual({ orphaned: true, code: null, signal: null });
    const after = withRecordsIn(runDir);
    expect(await after.recover()).toEqual([attempt.dispatch.name]);
    expect(readFileSync(ledger, 'utf8')).toBe('');
  }, 30_000);
});

describe('LocalProcessBackend killed by SIGKILL as an attempt ends', () => {
  let runDir: string;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'drivetrain-run-'));
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  test('the next lifetime reads how the attempt exited instead of calling it interrupted', async () => {
    // GIVEN a runtime that starts a short attempt, is frozen (SIGSTOP) while the attempt exits 0
    // and writes its exit file, and is then killed -9 before it could report the exit
    const attempt = nodeJob('setTimeout(() => process.exit(0), 400)');
    const runtime = runtimeProcess(runDir, attempt);
    await new Promise<void>((resolve) => runtime.stdout?.once('data', () => resolve()));
    runtime.kill('SIGSTOP');
    const exitFile = join(runDir, `${attempt.dispatch.name}.node-0.exit`);
    await until(() => (existsSync(exitFile) ? true : undefined));
    runtime.kill('SIGKILL');
    await exited(runtime);

    // WHEN a new lifetime starts over the same records
    const after = withRecordsIn(runDir);
    const reaped = await after.recover();
    const known = await after.reconcile([attempt.dispatch]);

    // THEN the attempt succeeded, so the dispatcher does not run the job again
    expect(reaped).toEqual([]);
    expect(known.get(attempt.dispatch.name)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
  }, 20_000);
});

describe('attemptLogPath', () => {
  test('refuses a job id that would leave the log directory', () => {
    // GIVEN / WHEN / THEN
    expect(() => attemptLogPath('/var/drivetrain/logs', '../etc', 1)).toThrow(/invalid job id/);
    expect(() => attemptLogPath('/var/drivetrain/logs', '..', 1)).toThrow(/invalid job id/);
  });
});
