import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { JobRecord } from '../../jobs/job';
import type { BackendSubmission } from '../../jobs/ports';
import { JobService, ValidationFailed } from '../../jobs/service';
import type { JobSpecInput } from '../../jobs/spec';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { devEnvironment as environment, localDispatcher } from './dispatcher-fixture';
import { RecordingBackend } from './recording-backend';
import { localStore } from './store-fixture';

const spec = (name: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name,
  image: 'python:3.11',
  command: ['python', 'train.py'],
  resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
  ...overrides,
});

/** What AWS SDK v3 throws when a service throttles: retryable by its own trait. */
const throttled = () =>
  Object.assign(new Error('Rate exceeded'), {
    name: 'ThrottlingException',
    $retryable: { throttling: true },
    $metadata: { httpStatusCode: 400 },
  });
/** What AWS SDK v3 throws for a value the service refuses: a 400, not retryable. */
const refused = () =>
  Object.assign(new Error('Tag value contains an invalid character: ;'), {
    name: 'ClientException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });

let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let service: JobService;
let backend: RecordingBackend;
let now: Date;

beforeEach(async () => {
  ({ db, store } = await localStore());
  now = new Date('2026-11-25T10:00:00Z');
  service = new JobService({ store, environment, clock: () => now });
  backend = new RecordingBackend();
});
afterEach(() => db.close());

function dispatcher() {
  return localDispatcher(store, backend, { nodesPerPool: 2, clock: () => now, warn: () => undefined });
}

/** Makes the backend's submit throw `error()` for the jobs named `names`. */
function failSubmits(names: string[], error: () => Error) {
  const original = backend.submit.bind(backend);
  backend.submit = async (submission: BackendSubmission) => {
    if (names.includes(submission.job.spec.name)) throw error();
    return original(submission);
  };
}

const get = (job: JobRecord) => store.get(job.id) as Promise<JobRecord>;

describe('a backend error is the job’s alone', () => {
  test('a submit the backend refuses fails that job with the backend’s message; the round starts the others', async () => {
    // GIVEN
    const { job: poison } = await service.submit('perception', spec('poison'));
    const { job: healthy } = await service.submit('perception', spec('healthy'));
    failSubmits(['poison'], refused);

    // WHEN
    const summary = await dispatcher().round();

    // THEN
    expect(summary.failed).toEqual([poison.id]);
    expect(await get(poison)).toMatchObject({
      state: 'FAILED',
      stateReason: 'local refused the job: ClientException: Tag value contains an invalid character: ;',
    });
    expect(await get(healthy)).toMatchObject({
      state: 'DISPATCHED',
      dispatch: { backendJobId: 'backend-1' },
    });
  });

  test('a throttled submit backs off in the job record, survives a cold start, and succeeds later', async () => {
    // GIVEN a submit that is throttled twice
    const { job } = await service.submit('perception', spec('throttled'));
    let failures = 2;
    let calls = 0;
    const original = backend.submit.bind(backend);
    backend.submit = async (submission) => {
      calls++;
      if (failures-- > 0) throw throttled();
      return original(submission);
    };

    // WHEN the first round is throttled, and a cold dispatcher runs before and after the backoff
    await dispatcher().round();
    const backingOff = await get(job);
    await dispatcher().round();
    const stillBackingOff = await get(job);
    now = new Date(now.getTime() + 6_000);
    await dispatcher().round(); // throttled again: 10 s now
    now = new Date(now.getTime() + 11_000);
    await dispatcher().round();

    // THEN
    expect(backingOff).toMatchObject({
      state: 'DISPATCHED',
      backendRetry: { op: 'submit', count: 1, notBefore: '2026-11-25T10:00:05.000Z' },
    });
    expect(stillBackingOff.version).toBe(backingOff.version);
    expect(await get(job)).toMatchObject({ state: 'DISPATCHED', dispatch: { backendJobId: 'backend-1' } });
    expect((await get(job)).backendRetry).toBeUndefined();
    expect(calls).toBe(3);
    expect(backend.created).toBe(1);
  });

  test('a submit throttled more times than the backoff allows ends FAILED with the last message', async () => {
    const { job } = await service.submit('perception', spec('always-throttled'));
    failSubmits(['always-throttled'], throttled);
    const d = dispatcher();

    for (let round = 0; round < 10; round++) {
      await d.round();
      now = new Date(now.getTime() + 301_000);
    }

    expect(await get(job)).toMatchObject({
      state: 'FAILED',
      stateReason: 'local submit failed 8 times: ThrottlingException: Rate exceeded',
    });
  });

  test('a cancel whose terminate fails is retried by a later round and never marked done before the stop', async () => {
    const { job } = await service.submit('perception', spec('stubborn'));
    const d = dispatcher();
    await d.round();
    await service.cancel('perception', job.id);
    const original = backend.terminate.bind(backend);
    let failures = 1;
    backend.terminate = async (dispatch, reason) => {
      if (failures-- > 0)
        throw Object.assign(new Error('Service Unavailable'), { $metadata: { httpStatusCode: 503 } });
      return original(dispatch, reason);
    };
    const { job: other } = await service.submit('perception', spec('other'));

    await d.round();
    const afterFailure = await get(job);
    now = new Date(now.getTime() + 6_000);
    await d.round();

    expect(afterFailure).toMatchObject({ state: 'DISPATCHED', backendRetry: { op: 'terminate', count: 1 } });
    expect((await get(other)).state).toBe('DISPATCHED');
    expect(await get(job)).toMatchObject({ state: 'CANCELLED' });
    expect(backend.terminations).toEqual([{ name: `dt-${job.id}-1`, reason: 'cancelled by user' }]);
  });
});

describe('backends that are not configured here', () => {
  test('the API refuses a spec for a backend this runtime does not have, naming the field', async () => {
    const local = new JobService({ store, environment, backends: ['local'] });

    const refusal = await local.submit('perception', spec('on-batch', { backend: 'batch' })).catch((e) => e);

    expect(refusal).toBeInstanceOf(ValidationFailed);
    expect((refusal as ValidationFailed).fields).toEqual([
      { field: 'backend', reason: 'no batch backend in this environment; use one of: local, auto' },
    ]);
    await expect(local.submit('perception', spec('local', { backend: 'local' }))).resolves.toMatchObject({
      created: true,
    });
  });

  test('a stored job asking for one fails at the next round with the reason; the others run', async () => {
    // GIVEN a job stored before the API refused such specs
    const { job: stored } = await service.submit('perception', spec('on-batch', { backend: 'batch' }));
    const { job: healthy } = await service.submit('perception', spec('healthy'));

    // WHEN
    const summary = await dispatcher().round();
    await dispatcher().round();

    // THEN
    expect(summary.failed).toEqual([stored.id]);
    expect(await get(stored)).toMatchObject({
      state: 'FAILED',
      stateReason: 'no batch backend in this environment (configured: local)',
    });
    expect((await get(healthy)).state).toBe('DISPATCHED');
  });
});
