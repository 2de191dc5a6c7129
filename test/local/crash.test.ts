import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_TEAM_HEADER } from '../../api/identity';
import type { JobView } from '../../api/job-view';
import type { JobSpecInput } from '../../jobs/spec';
import { isRunning, type RecordedProcess } from '../../local/pid-files';

/**
 * The local platform as its own OS process (local/serve.ts), killed with SIGKILL as a crash
 * or the OOM killer would: nothing of it may survive it, and a plain restart must recover.
 */
const root = join(import.meta.dirname, '..', '..');
let dataDir: string;
let platform: { child: ChildProcess; url: string };

async function startPlatform(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'local', 'serve.ts')], {
    cwd: root,
    env: {
      ...process.env,
      DRIVETRAIN_PORT: '0',
      DRIVETRAIN_DATA_DIR: dataDir,
      DRIVETRAIN_DISPATCH_INTERVAL_MS: '200',
      DRIVETRAIN_DISPATCH_MIN_GAP_MS: '0',
      DRIVETRAIN_PREEMPTION_GRACE_S: '0',
      DRIVETRAIN_KILL_GRACE_MS: '1000',
      DRIVETRAIN_RECONCILE_INTERVAL_S: '1',
      DRIVETRAIN_LOCAL_GPUS_PER_NODE: '4',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`the platform exited with ${code} before serving`)));
  });
  return { child, url };
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', [LOCAL_TEAM_HEADER]: 'perception' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const job = async (id: string) => (await call('GET', `/jobs/${id}`)).body.job as JobView;
const logOf = (id: string, attempt: number) => {
  try {
    return readFileSync(join(dataDir, 'logs', id, `attempt-${attempt}.log`), 'utf8');
  } catch {
    return '';
  }
};

/** Processes of this machine whose environment names the job: what a ghost would be. */
function processesOf(jobId: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .includes(`DRIVETRAIN_JOB_ID=${jobId}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const training = (epochs: number): JobSpecInput => ({
  name: 'resumable',
  image: 'local',
  command: ['python3', 'examples/train_sample.py', String(epochs), '0.3'],
  resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
});

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-crash-'));
  platform = await startPlatform();
});
afterAll(async () => {
  await killHard(platform.child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 of the local runtime', () => {
  test('the platform dies with its job processes and dynalite; a plain restart requeues the job, which resumes from its checkpoint', async () => {
    // GIVEN a training job three epochs in
    const { body } = await call('POST', '/jobs', training(12));
    const id = (body.job as JobView).id;
    await until('epoch 3', () => (logOf(id, 1).includes('epoch 3/12') ? true : undefined));
    const dynalite = JSON.parse(
      readFileSync(join(dataDir, 'run', 'dynalite.pid'), 'utf8'),
    ) as RecordedProcess;
    expect(processesOf(id).length).toBeGreaterThan(0);

    // WHEN the platform is SIGKILLed
    await killHard(platform.child);

    // THEN nothing of it survives: no job process, no dynalite holding the database
    await until('the job processes to die', () => (processesOf(id).length === 0 ? true : undefined), 5_000);
    await until('dynalite to exit', () => (isRunning(dynalite) ? undefined : true), 5_000);

    // WHEN it is started again, with no manual step
    platform = await startPlatform();

    // THEN the job is requeued as an interruption and its next attempt resumes where it stopped
    const done = await until('the job to finish', async () => {
      const current = await job(id);
      return current.state === 'SUCCEEDED' || current.state === 'FAILED' ? current : undefined;
    });
    expect(done).toMatchObject({ state: 'SUCCEEDED', attempt: 2, preemptions: 1 });
    expect(logOf(id, 2)).toMatch(/resuming from epoch ([3-9]|1[0-2])\b/);
    expect(logOf(id, 2)).not.toContain('epoch 1/12');
  });

  test('kill -9 of dynalite alone: the platform starts it again and keeps serving every job', async () => {
    const { body } = await call('POST', '/jobs', { ...training(1), name: 'after-dynalite' });
    const id = (body.job as JobView).id;
    const dynalite = JSON.parse(
      readFileSync(join(dataDir, 'run', 'dynalite.pid'), 'utf8'),
    ) as RecordedProcess;

    process.kill(dynalite.pid, 'SIGKILL');

    const done = await until('the job to finish', async () => {
      const current = await job(id).catch(() => undefined);
      return current?.state === 'SUCCEEDED' ? current : undefined;
    });
    expect(done.state).toBe('SUCCEEDED');
    expect((await call('GET', '/jobs?limit=100')).body.jobs).toHaveLength(2);
  });
});
