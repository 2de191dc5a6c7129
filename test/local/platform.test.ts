import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_TEAM_HEADER } from '../../api/identity';
import type { JobView } from '../../api/job-view';
import { type LocalRuntimeConfig, localRuntimeConfig } from '../../config/local';
import type { JobSpecInput } from '../../jobs/spec';
import type { JobState } from '../../jobs/states';
import { type LocalPlatform, startLocalPlatform } from '../../local/platform';

const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-local-'));
const config: LocalRuntimeConfig = {
  ...localRuntimeConfig({}, process.cwd()),
  port: 0,
  dataDir,
  // Two 4-slot nodes per fleet and capacity type: four 4-GPU jobs fill a10g, two nodes make a gang.
  pools: { nodesPerPool: 2, gpusPerNode: 4 },
  dispatchIntervalMs: 100,
  dispatchMinGapMs: 0,
  preemptionGraceS: 0,
  killGraceMs: 1_000,
};
let platform: LocalPlatform;

beforeAll(async () => {
  platform = await startLocalPlatform(config);
});
afterAll(async () => {
  await platform?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, path: string, team: string, body?: unknown) {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', [LOCAL_TEAM_HEADER]: team },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const submit = async (team: string, spec: JobSpecInput) => {
  const { status, body } = await call('POST', '/jobs', team, spec);
  expect(status, JSON.stringify(body)).toBe(201);
  return body.job as JobView;
};
const getJob = async (team: string, id: string) =>
  (await call('GET', `/jobs/${id}`, team)).body.job as JobView;

async function waitFor(
  team: string,
  id: string,
  done: (job: JobView) => boolean,
  timeoutMs = 20_000,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(team, id);
    if (done(job)) return job;
    if (Date.now() > deadline)
      throw new Error(
        `job ${id} still ${job.state}: ${JSON.stringify(job.pendingReason ?? job.stateReason)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const inState =
  (...states: JobState[]) =>
  (job: JobView) =>
    states.includes(job.state);

const gpuJob = (name: string, command: string[], overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name,
  image: 'local',
  command,
  resources: { gpus: 4, gpuType: 'a10g', cpus: 4, memoryMiB: 4096 },
  ...overrides,
});

describe('local runtime, over HTTP, with real processes', () => {
  test('submit → dispatched → running → succeeded, with the logs of the run', async () => {
    const job = await submit(
      'perception',
      gpuJob(
        'hello',
        ['python3', '-c', 'print("hello from", __import__("os").environ["DRIVETRAIN_JOB_ID"])'],
        { resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 } },
      ),
    );
    expect(job.state).toBe('PENDING');

    const done = await waitFor('perception', job.id, inState('SUCCEEDED', 'FAILED'));

    expect(done).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, attempt: 1 });
    const logs = await call('GET', `/jobs/${job.id}/logs`, 'perception');
    expect(logs.body.lines).toContain(`hello from ${job.id}`);
  });

  test('a failing command ends FAILED with its exit code', async () => {
    const job = await submit(
      'perception',
      gpuJob('boom', ['sh', '-c', 'exit 3'], { resources: { gpus: 0, cpus: 1, memoryMiB: 512 } }),
    );

    expect(await waitFor('perception', job.id, inState('SUCCEEDED', 'FAILED'))).toMatchObject({
      state: 'FAILED',
      exitCode: 3,
    });
  });

  test('cancel stops a running job and ends CANCELLED', async () => {
    const job = await submit(
      'perception',
      gpuJob('long', ['sleep', '60'], { resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 512 } }),
    );
    await waitFor('perception', job.id, inState('RUNNING'));

    const { status } = await call('DELETE', `/jobs/${job.id}`, 'perception');

    expect(status).toBe(202);
    expect(await waitFor('perception', job.id, inState('CANCELLED'), 10_000)).toMatchObject({
      state: 'CANCELLED',
    });
  });

  test('a critical job preempts preemptible work that holds its GPUs, which requeues', async () => {
    const sweeps = [];
    for (let i = 0; i < 4; i++)
      sweeps.push(
        await submit('mapping', gpuJob(`sweep-${i}`, ['sleep', '60'], { priorityClass: 'preemptible' })),
      );
    for (const sweep of sweeps) await waitFor('mapping', sweep.id, inState('RUNNING'));

    const release = await submit(
      'perception',
      gpuJob('release-eval', ['sleep', '1'], { priorityClass: 'critical' }),
    );

    expect(await waitFor('perception', release.id, inState('SUCCEEDED'), 20_000)).toMatchObject({
      state: 'SUCCEEDED',
    });
    const after = await Promise.all(sweeps.map((s) => getJob('mapping', s.id)));
    expect(after.some((s) => s.preemptions >= 1)).toBe(true);
    for (const sweep of after) await call('DELETE', `/jobs/${sweep.id}`, 'mapping');
    for (const sweep of after) await waitFor('mapping', sweep.id, inState('CANCELLED'), 10_000);
  });

  test('a preempted training job resumes from its checkpoint on its next attempt, not from epoch 1', async () => {
    // GIVEN preemptible training jobs holding every a10g slot, a few epochs in
    const sweeps = [];
    for (let i = 0; i < 4; i++)
      sweeps.push(
        await submit(
          'mapping',
          gpuJob(`resumable-${i}`, ['python3', 'examples/train_sample.py', '14', '0.3'], {
            priorityClass: 'preemptible',
          }),
        ),
      );
    for (const sweep of sweeps) await waitFor('mapping', sweep.id, inState('RUNNING'));
    const logOf = (id: string, attempt: number) =>
      readFileSync(join(dataDir, 'logs', id, `attempt-${attempt}.log`), 'utf8');
    for (const sweep of sweeps) {
      const deadline = Date.now() + 20_000;
      while (!logOf(sweep.id, 1).includes('epoch 2/14') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // WHEN critical work needs those GPUs
    const release = await submit(
      'perception',
      gpuJob('release-gate', ['sleep', '1'], { priorityClass: 'critical' }),
    );
    await waitFor('perception', release.id, inState('SUCCEEDED'), 20_000);

    // THEN the victim went back to the queue, and its next attempt picked up at its last checkpoint
    const after = await Promise.all(
      sweeps.map((s) => waitFor('mapping', s.id, inState('SUCCEEDED', 'FAILED'), 40_000)),
    );
    const victims = after.filter((s) => s.preemptions >= 1);
    expect(victims.length).toBeGreaterThan(0);
    for (const victim of victims) {
      expect(victim.state).toBe('SUCCEEDED');
      const resumed = logOf(victim.id, victim.attempt);
      expect(resumed).toMatch(/resuming from epoch ([2-9]|1[0-4])\b/);
      expect(resumed).not.toContain('epoch 1/14');
    }
  });

  test('a gang job starts all its nodes together, each knowing its rank', async () => {
    const script =
      'import os; print("rank", os.environ["DRIVETRAIN_NODE_INDEX"], "of", os.environ["DRIVETRAIN_NUM_NODES"])';
    const job = await submit(
      'perception',
      gpuJob('gang', ['python3', '-c', script], {
        resources: { gpus: 4, gpuType: 'a100', cpus: 4, memoryMiB: 4096, nodes: 2 },
      }),
    );

    const done = await waitFor('perception', job.id, inState('SUCCEEDED', 'FAILED'));

    expect(done.state).toBe('SUCCEEDED');
    const lines = ((await call('GET', `/jobs/${job.id}/logs`, 'perception')).body.lines as string[]).join(
      '\n',
    );
    expect(lines).toMatch(/rank 0 of 2/);
    expect(lines).toMatch(/rank 1 of 2/);
  });

  test('100 concurrent identical submissions with one idempotency key create exactly one job', async () => {
    const spec = gpuJob('idempotent', ['true'], {
      idempotencyKey: 'nightly-2026-11-25',
      resources: { gpus: 0, cpus: 1, memoryMiB: 512 },
    });

    const responses = await Promise.all(
      Array.from({ length: 100 }, () => call('POST', '/jobs', 'planning', spec)),
    );

    const ids = new Set(responses.map((r) => (r.body.job as JobView).id));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(99);
  });

  test('listing pages through every job exactly once', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 7; i++)
      created.add(
        (
          await submit(
            'prediction',
            gpuJob(`page-${i}`, ['true'], { resources: { gpus: 0, cpus: 1, memoryMiB: 512 } }),
          )
        ).id,
      );

    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await call(
        'GET',
        `/jobs?limit=3${nextToken ? `&nextToken=${nextToken}` : ''}`,
        'prediction',
      );
      expect(status).toBe(200);
      seen.push(...(body.jobs as JobView[]).map((j) => j.id));
      nextToken = body.nextToken as string | undefined;
      pages++;
    } while (nextToken);

    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toHaveLength(new Set(seen).size);
    expect(new Set(seen)).toEqual(created);
  });

  test("a team can neither read nor cancel another team's job", async () => {
    const job = await submit(
      'planning',
      gpuJob('private', ['sleep', '5'], { resources: { gpus: 0, cpus: 1, memoryMiB: 512 } }),
    );

    expect((await call('GET', `/jobs/${job.id}`, 'mapping')).status).toBe(404);
    expect((await call('DELETE', `/jobs/${job.id}`, 'mapping')).status).toBe(404);
    expect((await call('GET', '/jobs?team=planning', 'mapping')).status).toBe(403);
    expect((await getJob('planning', job.id)).cancelRequested).toBeFalsy();
    expect((await call('GET', `/jobs/${job.id}`, 'nobody')).status).toBe(401);
  });

  test('jobs survive a restart of the platform', async () => {
    const job = await submit(
      'perception',
      gpuJob('durable', ['true'], { resources: { gpus: 0, cpus: 1, memoryMiB: 512 } }),
    );
    await waitFor('perception', job.id, inState('SUCCEEDED'));

    await platform.close();
    platform = await startLocalPlatform(config);

    expect(await getJob('perception', job.id)).toMatchObject({ id: job.id, state: 'SUCCEEDED' });
  });
});
