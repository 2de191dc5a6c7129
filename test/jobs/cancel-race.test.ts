import { afterEach, beforeEach, expect, test } from 'vitest';
import type { JobStore } from '../../jobs/ports';
import { JobService } from '../../jobs/service';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { devEnvironment as environment, localDispatcher } from './dispatcher-fixture';
import { RecordingBackend } from './recording-backend';
import { localStore } from './store-fixture';

let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let backend: RecordingBackend;

beforeEach(async () => {
  ({ db, store } = await localStore());
  backend = new RecordingBackend();
});
afterEach(() => db.close());

/** The store as the cancel sees it, with `beforeCancelWrite` run between its read and its write. */
function racingStore(beforeCancelWrite: () => Promise<unknown>): JobStore {
  let raced = false;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'transition') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<JobStore['transition']>) => {
        if (args[1] === 'CANCELLED' && !raced) {
          raced = true;
          await beforeCancelWrite();
        }
        return target.transition(...args);
      };
    },
  });
}

test('a cancel that read PENDING loses to a dispatch that claimed the job meanwhile, and the backend job is stopped', async () => {
  // GIVEN a pending job, and a dispatcher round that claims and starts it between the cancel's read and write
  const d = localDispatcher(store, backend);
  const submitter = new JobService({ store, environment });
  const { job } = await submitter.submit('perception', {
    name: 'race',
    image: 'python:3.11',
    command: ['python', 'train.py'],
    resources: { gpus: 1, gpuType: 'a10g', cpus: 1, memoryMiB: 1024 },
  });
  const canceller = new JobService({ store: racingStore(() => d.round()), environment });

  // WHEN
  const answered = await canceller.cancel('perception', job.id);

  // THEN the cancel did not overwrite the dispatch: the job is marked, and the next round stops it
  expect(backend.created).toBe(1);
  expect(answered).toMatchObject({ state: 'DISPATCHED', cancelRequested: true });
  await d.round();
  expect(backend.terminations).toEqual([{ name: `dt-${job.id}-1`, reason: 'cancelled by user' }]);
  expect(await store.get(job.id)).toMatchObject({ state: 'CANCELLED' });
});
