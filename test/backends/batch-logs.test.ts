import type { BatchClient } from '@aws-sdk/client-batch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BatchLogSource } from '../../backends/batch-logs';
import type { JobRecord } from '../../jobs/job';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { localStore } from '../jobs/store-fixture';
import { RecordingClient } from './recording-client';

const LOG_GROUP = '/drivetrain/dev/batch';
const STREAM = 'batch/default/abc123';

let db: LocalDynamoDb;
let store: DynamoDbJobStore;
beforeEach(async () => {
  ({ db, store } = await localStore());
});
afterEach(() => db.close());

async function storedJob(overrides: Partial<JobRecord> = {}): Promise<JobRecord> {
  const job: JobRecord = {
    id: 'k0000000000000000000001',
    team: 'perception',
    spec: {
      name: 'train',
      image: 'x',
      command: ['python'],
      args: [],
      env: {},
      resources: { gpus: 1, gpuType: 'a10g', cpus: 4, memoryMiB: 8192, nodes: 1 },
      priorityClass: 'standard',
      maxRuntimeS: 3600,
      retries: 2,
      backend: 'auto',
      tags: {},
    },
    state: 'RUNNING',
    attempt: 1,
    submittedAt: '2026-11-25T10:00:00.000Z',
    updatedAt: '2026-11-25T10:00:00.000Z',
    preemptions: 0,
    attainedGpuS: 0,
    specHash: 'h',
    version: 1,
    dispatch: {
      backend: 'batch',
      pool: 'a10g-on-demand',
      capacityType: 'on-demand',
      nodes: [0],
      name: 'dt-k0000000000000000000001-1',
      backendJobId: 'batch-job-1',
    },
    ...overrides,
  };
  await store.create(job);
  return job;
}

/** A log stream of `count` events served in pages of `pageSize`, CloudWatch style. */
function logsClient(count: number, pageSize: number) {
  return new RecordingClient('logs', {
    GetLogEvents: (input: { nextToken?: string }) => {
      const from = input.nextToken ? Number(input.nextToken.slice(2)) : 0;
      const to = Math.min(count, from + pageSize);
      const events = Array.from({ length: to - from }, (_, i) => ({ message: `line ${from + i}` }));
      // At the end CloudWatch returns the token it was given.
      return { events, nextForwardToken: to === from ? input.nextToken : `f/${to}` };
    },
  });
}

function source(batch: RecordingClient, logs: RecordingClient): BatchLogSource {
  return new BatchLogSource(store, batch.as<BatchClient>(), logs.as<CloudWatchLogsClient>(), LOG_GROUP);
}

describe('BatchLogSource', () => {
  test('reads the stream Batch reports for the attempt, from the head', async () => {
    const job = await storedJob();
    const batch = new RecordingClient('batch', {
      DescribeJobs: () => ({ jobs: [{ container: { logStreamName: STREAM } }] }),
    });
    const logs = logsClient(3, 100);

    const chunk = await source(batch, logs).read(job.id, 1, 0);

    expect(batch.inputsOf('DescribeJobs')).toEqual([{ jobs: ['batch-job-1'] }]);
    expect(logs.inputsOf('GetLogEvents')[0]).toEqual({
      logGroupName: LOG_GROUP,
      logStreamName: STREAM,
      startFromHead: true,
      nextToken: undefined,
    });
    expect(chunk).toEqual({ lines: ['line 0', 'line 1', 'line 2'], nextOffset: 3, complete: false });
  });

  test('continues from an offset across pages and says complete once the job ended', async () => {
    const job = await storedJob({ state: 'SUCCEEDED' });
    const batch = new RecordingClient('batch', {
      DescribeJobs: () => ({ jobs: [{ container: { logStreamName: STREAM } }] }),
    });

    const chunk = await source(batch, logsClient(5, 2)).read(job.id, 1, 3);

    expect(chunk).toEqual({ lines: ['line 3', 'line 4'], nextOffset: 5, complete: true });
  });

  test("a gang job's log is its main node's", async () => {
    const job = await storedJob();
    const batch = new RecordingClient('batch', {
      DescribeJobs: (input: { jobs: string[] }) =>
        input.jobs[0] === 'batch-job-1'
          ? { jobs: [{ nodeProperties: { mainNode: 0, numNodes: 4 } }] }
          : { jobs: [{ container: { logStreamName: STREAM } }] },
    });

    await source(batch, logsClient(1, 10)).read(job.id, 1, 0);

    expect(batch.inputsOf('DescribeJobs')).toEqual([{ jobs: ['batch-job-1'] }, { jobs: ['batch-job-1#0'] }]);
  });

  test('a job not yet started on Batch has no lines and is not complete', async () => {
    const job = await storedJob();
    const batch = new RecordingClient('batch', { DescribeJobs: () => ({ jobs: [{ status: 'RUNNABLE' }] }) });
    const logs = logsClient(0, 10);

    const chunk = await source(batch, logs).read(job.id, 1, 0);

    expect(chunk).toEqual({ lines: [], nextOffset: 0, complete: false });
    expect(logs.calls).toEqual([]);
  });
});
