import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { localPools, teamsOf } from '../../jobs/cluster';
import { Dispatcher } from '../../jobs/dispatcher';
import type { JobRecord } from '../../jobs/job';
import { JobService } from '../../jobs/service';
import type { JobSpecInput } from '../../jobs/spec';
import { DynamoDbDispatcherState } from '../../jobs/store/dynamodb-dispatcher-state';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { FileBackend } from './file-backend';
import { RecordingBackend } from './recording-backend';
import { localStore } from './store-fixture';

const environment = environmentConfig('dev');
// One a10g node of 4 GPUs on-demand and one on spot: small enough to fill in a test.
const pools = localPools(environment, { nodesPerPool: 1, gpusPerNode: 4 });
const policy = new DrivetrainPolicy({
  ...DEFAULT_DRIVETRAIN_CONFIG,
  preemption: { ...DEFAULT_DRIVETRAIN_CONFIG.preemption, graceS: 0 },
});

const spec = (overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: 'train',
  image: 'python:3.11',
  command: ['python', 'train.py'],
  resources: { gpus: 4, gpuType: 'a10g', cpus: 8, memoryMiB: 32_768 },
  ...overrides,
});

let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let service: JobService;
let backend: RecordingBackend;
let now: Date;

function dispatcher(extra: Partial<ConstructorParameters<typeof Dispatcher>[0]> = {}) {
  return new Dispatcher({
    store,
    policy,
    pools,
    teams: teamsOf(environment),
    backends: { local: backend },
    defaultBackend: 'local',
    clock: () => now,
    ...extra,
  });
}

beforeEach(async () => {
  ({ db, store } = await localStore());
  now = new Date('2026-11-25T10:00:00Z');
  service = new JobService({ store, environment, clock: () => now });
  backend = new RecordingBackend();
});
afterEach(() => db.close());

const get = (job: JobRecord) => store.get(job.id) as Promise<JobRecord>;

describe('dispatcher round', () => {
  test('dispatches a pending job with a deterministic backend name and records the backend id', async () => {
    const { job } = await service.submit('perception', spec());

    const summary = await dispatcher().round();

    const after = await get(job);
    expect(summary.started).toEqual([job.id]);
    expect(after.state).toBe('DISPATCHED');
    expect(after.attempt).toBe(1);
    expect(after.dispatch).toMatchObject({
      name: `dt-${job.id}-1`,
      backend: 'local',
      backendJobId: 'backend-1',
    });
    expect(after.pendingReason).toBeUndefined();
  });

  test('jobs that do not fit stay pending, each with a machine-readable reason', async () => {
    const submitted = [];
    for (const name of ['first', 'second', 'third'])
      submitted.push((await service.submit('perception', spec({ name }))).job);

    await dispatcher().round();

    const waiting = (await Promise.all(submitted.map(get))).filter((j) => j.state === 'PENDING');
    expect(waiting.length).toBeGreaterThan(0);
    for (const job of waiting) {
      expect(job.pendingReason?.code).toMatch(
        /^(capacity|quota|priority|gang-reservation|blocked-by-higher-class)$/,
      );
      expect(job.pendingReason?.message.length).toBeGreaterThan(0);
    }
  });

  test('backend status events move the job to RUNNING and then SUCCEEDED', async () => {
    const { job } = await service.submit('perception', spec());
    const d = dispatcher();
    await d.round();

    await d.applyStatus({ name: `dt-${job.id}-1`, backendJobId: 'backend-1', state: 'RUNNING' });
    expect((await get(job)).state).toBe('RUNNING');
    await d.applyStatus({
      name: `dt-${job.id}-1`,
      backendJobId: 'backend-1',
      state: 'SUCCEEDED',
      exitCode: 0,
    });

    expect(await get(job)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
  });

  test('a spot reclaim requeues the job instead of failing it, and the next attempt gets a new name', async () => {
    const { job } = await service.submit('perception', spec({ priorityClass: 'preemptible' }));
    const d = dispatcher();
    await d.round();

    await d.applyStatus({
      name: `dt-${job.id}-1`,
      backendJobId: 'backend-1',
      state: 'INTERRUPTED',
      reason: 'Host EC2 (instance i-1) terminated.',
    });
    expect(await get(job)).toMatchObject({ state: 'PENDING', preemptions: 1 });
    await d.round();

    expect(await get(job)).toMatchObject({
      state: 'DISPATCHED',
      attempt: 2,
      dispatch: { name: `dt-${job.id}-2` },
    });
  });

  test('a status report about an earlier attempt changes nothing', async () => {
    const { job } = await service.submit('perception', spec({ priorityClass: 'preemptible' }));
    const d = dispatcher();
    await d.round();
    await d.applyStatus({ name: `dt-${job.id}-1`, backendJobId: 'backend-1', state: 'INTERRUPTED' });
    await d.round();

    await d.applyStatus({
      name: `dt-${job.id}-1`,
      backendJobId: 'backend-1',
      state: 'FAILED',
      exitCode: 137,
    });

    expect((await get(job)).state).toBe('DISPATCHED');
  });

  test('a higher class preempts preemptible work that holds the capacity it needs', async () => {
    const fillers = [];
    for (let i = 0; i < 2; i++)
      fillers.push(
        (await service.submit('mapping', spec({ name: `sweep-${i}`, priorityClass: 'preemptible' }))).job,
      );
    const d = dispatcher();
    await d.round();
    for (const f of fillers)
      await d.applyStatus({ name: `dt-${f.id}-1`, backendJobId: 'x', state: 'RUNNING' });

    const { job: critical } = await service.submit(
      'perception',
      spec({ name: 'release', priorityClass: 'critical' }),
    );
    now = new Date(now.getTime() + 60_000);
    const summary = await d.round();

    expect(summary.preempted).toHaveLength(1);
    expect(backend.terminations[0]?.reason).toMatch(/preempted for/);
    expect((await get(critical)).state).toBe('DISPATCHED');
    const victim = await store.get(summary.preempted[0]!);
    expect(victim).toMatchObject({ state: 'PENDING', preemptions: 1 });
  });

  test('cancelling a dispatched job stops it on the backend and ends CANCELLED', async () => {
    const { job } = await service.submit('perception', spec());
    const d = dispatcher();
    await d.round();

    const requested = await service.cancel('perception', job.id);
    expect(requested).toMatchObject({ state: 'DISPATCHED', cancelRequested: true });
    const summary = await d.round();

    expect(summary.cancelled).toEqual([job.id]);
    expect(backend.terminations).toEqual([{ name: `dt-${job.id}-1`, reason: 'cancelled by user' }]);
    expect((await get(job)).state).toBe('CANCELLED');
  });
});

describe('dispatcher state', () => {
  test('fair-share usage survives a cold start: a new dispatcher continues from the stored ledger', async () => {
    const stateStore = new DynamoDbDispatcherState(db.client, store.tableName);
    const { job } = await service.submit('perception', spec());
    const warm = dispatcher({ stateStore });
    await warm.round();
    await warm.applyStatus({ name: `dt-${job.id}-1`, backendJobId: 'backend-1', state: 'RUNNING' });
    now = new Date(now.getTime() + 3_600_000);
    await warm.round();
    const saved = (await stateStore.load())?.usage;
    expect(saved?.byTeam.perception?.gpus).toBeGreaterThan(0);

    const loads: string[] = [];
    const cold = dispatcher({
      stateStore: {
        load: async () => {
          loads.push('load');
          return stateStore.load();
        },
        save: (state) => stateStore.save(state),
      },
    });
    await cold.round();

    expect(loads).toEqual(['load']);
    expect((await stateStore.load())?.usage.byTeam.perception?.gpus).toBeGreaterThanOrEqual(
      saved!.byTeam.perception!.gpus * 0.99,
    );
  });

  test("each round publishes the queue report with the round's own why-pending reasons", async () => {
    const stateStore = new DynamoDbDispatcherState(db.client, store.tableName);
    for (const name of ['a', 'b', 'c']) await service.submit('perception', spec({ name }));

    await dispatcher({ stateStore }).round();

    // Three 4-GPU standard jobs, one 4-GPU node each on-demand and spot (standard work may
    // fall back to spot): two start, one waits with this round's reason.
    const queues = (await stateStore.load())?.queues;
    const perception = queues?.teams.find((team) => team.team === 'perception');
    expect(perception).toMatchObject({ pending: 1, running: 2, gpusInUse: { a10g: 8 } });
    expect(perception?.heads.map((head) => head.reason?.code)).not.toContain('queued');
    expect(queues?.pools.find((pool) => pool.pool === 'a10g-on-demand')?.gpusInUse).toBe(4);
  });

  test('the state item never shows up as a job', async () => {
    await new DynamoDbDispatcherState(db.client, store.tableName).save({ usage: { at: 0, byTeam: {} } });

    expect(await store.listByState('PENDING')).toEqual([]);
    expect((await store.listByTeam({ team: 'perception', limit: 10 })).jobs).toEqual([]);
  });
});

describe('a warm dispatcher reads only what changed', () => {
  test('a job submitted after a round is seen by the next round of the same dispatcher', async () => {
    const d = dispatcher();
    await d.round();

    const { job } = await service.submit('perception', spec());
    await d.round();

    expect((await get(job)).state).toBe('DISPATCHED');
  });

  test('a pending job cancelled after the dispatcher saw it is never dispatched', async () => {
    const { job: blocker } = await service.submit('perception', spec({ name: 'blocker' }));
    const { job: other } = await service.submit('perception', spec({ name: 'other' }));
    const { job: waiting } = await service.submit('perception', spec({ name: 'waiting' }));
    const d = dispatcher();
    await d.round();
    const stillPending = (await Promise.all([blocker, other, waiting].map(get))).filter(
      (j) => j.state === 'PENDING',
    );
    expect(stillPending.length).toBeGreaterThan(0);

    for (const job of stillPending) await service.cancel('perception', job.id);
    const running = (await Promise.all([blocker, other, waiting].map(get))).filter(
      (j) => j.state === 'DISPATCHED',
    );
    for (const job of running)
      await d.applyStatus({ name: job.dispatch!.name, backendJobId: 'x', state: 'SUCCEEDED' });
    const summary = await d.round();

    expect(summary.started).toEqual([]);
    for (const job of stillPending) expect((await get(job)).state).toBe('CANCELLED');
    expect(backend.created).toBe(running.length);
  });
});

describe('crash between the backend submit and the state write', () => {
  test('a dispatcher process killed there leaves no duplicate and no lost job once the next round runs', async () => {
    const { job } = await service.submit('perception', spec());
    const backendDir = mkdtempSync(join(tmpdir(), 'drivetrain-backend-'));
    const killed = spawnSync(
      'npx',
      ['tsx', 'test/jobs/crash-round.ts', db.endpoint, store.tableName, backendDir],
      {
        encoding: 'utf8',
      },
    );
    expect(String(killed.signal ?? killed.status), killed.stderr).toMatch(/SIGKILL|137/);
    expect((await get(job)).dispatch?.backendJobId).toBeUndefined();

    const files = new FileBackend(backendDir);
    const summary = await dispatcher({ backends: { local: files } }).round();

    expect(summary.recovered).toEqual([job.id]);
    expect(files.jobs()).toEqual([`dt-${job.id}-1`]);
    expect(await get(job)).toMatchObject({
      state: 'DISPATCHED',
      dispatch: { backendJobId: `backend-dt-${job.id}-1` },
    });
  });

  test('the next round finds the backend job by name: no duplicate, no lost job', async () => {
    const { job } = await service.submit('perception', spec());
    const crashing = dispatcher({
      afterSubmit: () => {
        throw new Error('dispatcher killed');
      },
    });
    await expect(crashing.round()).rejects.toThrow('dispatcher killed');
    expect((await get(job)).dispatch?.backendJobId).toBeUndefined();

    // A fresh dispatcher, as after a Lambda cold start, with nothing in memory.
    const summary = await dispatcher().round();

    expect(summary.recovered).toEqual([job.id]);
    expect(backend.created).toBe(1);
    expect(await get(job)).toMatchObject({
      state: 'DISPATCHED',
      attempt: 1,
      dispatch: { backendJobId: 'backend-1' },
    });
  });

  test('a submit lost in transit is retried after its backoff under the same name', async () => {
    const { job } = await service.submit('perception', spec());
    let first = true;
    const flaky = new RecordingBackend();
    const original = flaky.submit.bind(flaky);
    flaky.submit = async (submission) => {
      if (first) {
        first = false;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return original(submission);
    };
    await dispatcher({ backends: { local: flaky } }).round();
    expect(await get(job)).toMatchObject({ state: 'DISPATCHED', backendRetry: { op: 'submit', count: 1 } });

    now = new Date(now.getTime() + 60_000);
    await dispatcher({ backends: { local: flaky } }).round();

    expect(flaky.created).toBe(1);
    expect((await get(job)).dispatch?.backendJobId).toBe('backend-1');
    expect((await get(job)).backendRetry).toBeUndefined();
  });
});
