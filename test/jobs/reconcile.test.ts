import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Dispatch, JobRecord } from '../../jobs/job';
import type { BackendJobStatus } from '../../jobs/ports';
import { JobService } from '../../jobs/service';
import type { JobSpecInput } from '../../jobs/spec';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { devEnvironment as environment, localDispatcher } from './dispatcher-fixture';
import { RecordingBackend } from './recording-backend';
import { localStore } from './store-fixture';

/** A backend that also answers reconciliation, from what a test says it knows. */
class ReconcilingBackend extends RecordingBackend {
  readonly known = new Map<string, BackendJobStatus>();
  readonly asked: string[][] = [];

  async reconcile(dispatches: readonly Dispatch[]) {
    this.asked.push(dispatches.map((d) => d.name));
    return new Map(
      dispatches.flatMap((d) => (this.known.has(d.name) ? [[d.name, this.known.get(d.name)!]] : [])),
    );
  }
}

const spec = (overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name: 'train',
  image: 'python:3.11',
  command: ['python', 'train.py'],
  resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
  ...overrides,
});

let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let service: JobService;
let backend: ReconcilingBackend;
let now: Date;

beforeEach(async () => {
  ({ db, store } = await localStore());
  now = new Date('2026-11-25T10:00:00Z');
  service = new JobService({ store, environment, clock: () => now });
  backend = new ReconcilingBackend();
});
afterEach(() => db.close());

const dispatcher = () =>
  localDispatcher(store, backend, {
    clock: () => now,
    reconcileEveryS: 60,
    lostAfterS: 30,
    warn: () => undefined,
  });
const get = (job: JobRecord) => store.get(job.id) as Promise<JobRecord>;
const later = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

describe('reconciliation with the backend', () => {
  test('a running job its backend does not know is requeued as an interruption, and fails once out of retries', async () => {
    // GIVEN a job with one retry, running, that the backend then loses
    const { job } = await service.submit('perception', spec({ retries: 1 }));
    const d = dispatcher();
    await d.round();
    await d.round([{ name: `dt-${job.id}-1`, backendJobId: 'backend-1', state: 'RUNNING' }]);

    // WHEN the backend has no record of it, twice
    later(120);
    const first = await d.round();
    const requeued = await get(job);
    await d.round([{ name: `dt-${job.id}-2`, backendJobId: 'backend-2', state: 'RUNNING' }]);
    later(120);
    await d.round();

    // THEN
    expect(first.lost).toEqual([job.id]);
    expect(requeued).toMatchObject({ state: 'DISPATCHED', attempt: 2, interruptions: 1 });
    expect(await get(job)).toMatchObject({
      state: 'FAILED',
      interruptions: 2,
      stateReason: `lost: the local backend has no record of attempt dt-${job.id}-2; interrupted 2 times, more than its 1 retries`,
    });
  });

  test('a job whose end event was lost ends as its backend says', async () => {
    const { job } = await service.submit('perception', spec());
    const d = dispatcher();
    await d.round();
    backend.known.set(`dt-${job.id}-1`, {
      name: `dt-${job.id}-1`,
      backendJobId: 'backend-1',
      state: 'SUCCEEDED',
      exitCode: 0,
    });

    later(120);
    const summary = await d.round();

    expect(summary.reconciled).toBe(1);
    expect(await get(job)).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
  });

  test('an attempt an event confirmed recently, or submitted just now, is not asked about or lost', async () => {
    const { job: confirmed } = await service.submit('perception', spec({ name: 'confirmed' }));
    const d = dispatcher();
    await d.round();
    const { job: fresh } = await service.submit('perception', spec({ name: 'fresh' }));

    later(61);
    await d.round([{ name: `dt-${confirmed.id}-1`, backendJobId: 'backend-1', state: 'RUNNING' }]);
    later(10);
    const summary = await d.round();

    expect(backend.asked.flat()).not.toContain(`dt-${confirmed.id}-1`);
    expect(summary.lost).toEqual([]);
    expect((await get(fresh)).state).toBe('DISPATCHED');
    expect((await get(confirmed)).state).toBe('RUNNING');
  });

  test('the same status delivered twice and out of order changes nothing the second time', async () => {
    const { job } = await service.submit('perception', spec());
    const d = dispatcher();
    await d.round();
    const running = { name: `dt-${job.id}-1`, backendJobId: 'backend-1', state: 'RUNNING' as const };
    const succeeded = { ...running, state: 'SUCCEEDED' as const, exitCode: 0 };

    await d.round([succeeded, running, succeeded]);
    const once = await get(job);
    await d.round([succeeded, running]);

    expect(once).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    expect((await get(job)).version).toBe(once.version);
  });
});

describe('checkpoint-aware preemption', () => {
  test('the victim is the job that loses least work since its newest checkpoint, not the youngest', async () => {
    // GIVEN four preemptible 2-GPU jobs on the two 4-slot a10g pools; of the two on on-demand,
    // the older one checkpointed five minutes ago and the younger one never did
    const jobs = [];
    for (let i = 0; i < 4; i++)
      jobs.push(
        (
          await service.submit(
            'mapping',
            spec({
              name: `sweep-${i}`,
              priorityClass: 'preemptible',
              resources: { gpus: 2, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
            }),
          )
        ).job,
      );
    const checkpointedAt = new Map<string, Date>();
    // A backend without reconciliation: this test is about the checkpoints alone.
    const d = localDispatcher(store, new RecordingBackend(), {
      clock: () => now,
      warn: () => undefined,
      checkpoints: {
        locationOf: (job) => `/checkpoints/${job.id}`,
        newestCheckpoint: async (job) => checkpointedAt.get(job.id),
      },
    });
    await d.round();
    const placed = await Promise.all(jobs.map(get));
    const [older, younger] = placed.filter((j) => j.dispatch?.pool === 'a10g-on-demand');
    const running = (job: JobRecord): BackendJobStatus => ({
      name: job.dispatch!.name,
      backendJobId: job.dispatch!.backendJobId!,
      state: 'RUNNING',
    });
    await d.round([running(older!)]);
    later(600);
    await d.round(placed.filter((j) => j.id !== older!.id).map(running));
    later(3000);
    checkpointedAt.set(older!.id, new Date(now.getTime() - 300_000));

    // WHEN standard work of the same team needs 2 on-demand GPUs (another team's class may
    // take only work run on borrowed quota, so only a team's own work offers a choice here)
    await service.submit(
      'mapping',
      spec({
        name: 'release',
        priorityClass: 'standard',
        resources: { gpus: 2, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
      }),
    );
    const summary = await d.round();

    // THEN
    expect(summary.preempted).toEqual([older!.id]);
    expect(younger).toBeDefined();
  });
});

describe('stopping an attempt that already ended', () => {
  test('a preemption victim whose success report was lost ends SUCCEEDED, not requeued to run again', async () => {
    // GIVEN two preemptible jobs holding both a10g pools, both finished, their reports lost
    const d = localDispatcher(store, backend, {
      clock: () => now,
      warn: () => undefined,
      reconcileEveryS: 86_400,
    });
    const sweeps = [];
    for (let i = 0; i < 2; i++)
      sweeps.push(
        (
          await service.submit(
            'mapping',
            spec({
              name: `sweep-${i}`,
              priorityClass: 'preemptible',
              resources: { gpus: 4, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
            }),
          )
        ).job,
      );
    await d.round();
    const names = sweeps.map((job) => `dt-${job.id}-1`);
    await d.round(names.map((name) => ({ name, backendJobId: name, state: 'RUNNING' as const })));
    for (const name of names)
      backend.known.set(name, { name, backendJobId: name, state: 'SUCCEEDED', exitCode: 0 });

    // WHEN critical work preempts one of them before any reconciliation
    later(3600);
    await service.submit(
      'perception',
      spec({
        name: 'release',
        priorityClass: 'critical',
        resources: { gpus: 4, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
      }),
    );
    await d.round();

    // THEN
    const states = await Promise.all(sweeps.map(async (job) => (await get(job)).state));
    expect(states).toContain('SUCCEEDED');
    expect(states).not.toContain('PENDING');
    expect((await Promise.all(sweeps.map(get))).every((job) => job.attempt === 1)).toBe(true);
  });
});
