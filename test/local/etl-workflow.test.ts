import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { etlPaths, LOCAL_NAMES, type LocalEtlSettings } from '../../local/etl/ingest-runner';
import { objectCreated } from '../../local/etl/raw-watcher';
import { type LocalEtl, startLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { type SunkEvent, type SunkNotification, sinkRecords } from './etl-fixtures';
import { requestViolations } from './etl-requests';

/**
 * The ingest workflow's own paths on the local stand-ins (dynalite, bucket folders, the
 * event and notification sinks): validation, quarantine, the ledger, sweeps and the failure
 * path. Runs that reach Spark are in etl-e2e.test.ts.
 */

function filesUnder(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder, { recursive: true, encoding: 'utf8' }).sort() : [];
}

describe('local ingest workflow', () => {
  let dataDir: string;
  let etl: LocalEtl;
  let settings: LocalEtlSettings;
  let rawDir: string;
  const requests: [string, unknown][] = [];

  /** Puts an object in the local raw bucket, as an upload would. */
  const upload = (key: string, content: string | Buffer) => {
    const path = join(rawDir, ...key.split('/'));
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  };
  const run = async (input: unknown) => {
    const outcome = await etl.workflow!.start(input).done;
    return { outcome, record: outcome.name ? await etl.runs.run(outcome.name) : undefined };
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-'));
    // A job that cannot start: any run reaching it fails for real, as a broken job would.
    settings = {
      ...localEtlSettings({}, { dataDir }),
      job: { ...localEtlSettings({}).job, module: 'drivetrain_spark.jobs.no_such_job' },
      data: { ...localEtlSettings({}).data, maxObjectsPerRun: 4 },
    };
    etl = await startLocalEtl({
      settings,
      watch: false,
      persist: false,
      retryIntervalMs: 10,
      onTaskRequest: (resource, parameters) => requests.push([resource, parameters]),
    });
    rawDir = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw);
  });
  afterAll(async () => {
    await etl?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('objects that do not fit are quarantined with a machine-readable reason, and nothing runs', async () => {
    // GIVEN an empty log, a wrong suffix, a key outside the layout and a key that does not exist
    upload('raw/car-a/drive-1/empty.mcap', '');
    upload('raw/car-a/drive-1/notes.txt', 'not a log');
    upload('raw/car-a/drive-1/extra/deep.mcap', 'MCAP');
    const keys = [
      'raw/car-a/drive-1/empty.mcap',
      'raw/car-a/drive-1/notes.txt',
      'raw/car-a/drive-1/extra/deep.mcap',
      'raw/car-a/drive-1/gone.bag',
    ];

    // WHEN they are requested
    const { outcome, record } = await run({ keys });

    // THEN the run succeeds with nothing to ingest, and each reject has its reason on record
    expect(outcome.status).toBe('SUCCEEDED');
    expect(record).toMatchObject({
      state: 'SUCCEEDED',
      phase: 'nothing to ingest',
      requestedObjects: 4,
      acceptedObjects: 0,
      rejectedObjects: 3,
    });
    const rejected = join(etlPaths(dataDir).buckets, LOCAL_NAMES.quarantine, 'rejected', outcome.name);
    const reasons = filesUnder(rejected)
      .filter((file) => file.endsWith('.reason.json'))
      .map(
        (file) => JSON.parse(readFileSync(join(rejected, file), 'utf8')) as { uri: string; reason: string },
      );
    expect(Object.fromEntries(reasons.map((r) => [r.uri.split('/drive-1/')[1], r.reason]))).toEqual({
      'empty.mcap': 'empty',
      'notes.txt': 'unsupported-suffix',
      'extra/deep.mcap': 'bad-layout',
    });
    // The rejected bytes are copied next to their reasons; the raw objects stay where they were.
    expect(filesUnder(rejected)).toContain(join('raw', 'car-a', 'drive-1', 'notes.txt'));
    expect(existsSync(join(rawDir, 'raw', 'car-a', 'drive-1', 'notes.txt'))).toBe(true);
    // The ledger remembers each rejected version, so sweeps do not quarantine it again.
    await expect(etl.runs.object('raw/car-a/drive-1/notes.txt')).resolves.toMatchObject({
      state: 'REJECTED',
      runId: outcome.name,
    });
  });

  test('a sweep skips versions it has seen and pages through the raw prefix one execution per page', async () => {
    // GIVEN the rejected objects above plus more than a page of new ones (maxObjectsPerRun = 4)
    for (let i = 0; i < 3; i++) upload(`raw/car-b/drive-2/readme-${i}.txt`, `text ${i}`);
    const before = await etl.runs.runs(100);

    // WHEN the schedule's sweep runs (its first page starts the next one)
    await run({ sweep: {} });
    await etl.workflow!.idle();

    // THEN every object was looked at exactly once across the pages
    const sweeps = (await etl.runs.runs(100)).filter(
      (r) => r.trigger === 'sweep' && !before.some((b) => b.runId === r.runId),
    );
    expect(sweeps.length).toBe(2);
    const totals = sweeps.reduce(
      (sum, r) => ({
        requested: sum.requested + r.requestedObjects,
        skipped: sum.skipped + r.skippedObjects,
      }),
      { requested: 0, skipped: 0 },
    );
    expect(totals.requested).toBe(6);
    // empty.mcap, notes.txt and deep.mcap were rejected before: this version is skipped
    expect(totals.skipped).toBe(3);
    expect(sweeps.reduce((sum, r) => sum + r.rejectedObjects, 0)).toBe(3);
  });

  test('a batch of S3 events with a duplicate records each key once', async () => {
    upload('raw/car-c/drive-3/log.txt', 'x');
    const event = {
      messageId: 'm1',
      body: JSON.stringify(objectCreated(LOCAL_NAMES.raw, 'raw/car-c/drive-3/log.txt', 1)),
    };

    const { record } = await run([event, { ...event, messageId: 'm2' }]);

    expect(record?.trigger).toBe('s3-events');
    expect(record?.keys).toEqual(['raw/car-c/drive-3/log.txt']);
  });

  test('an input the workflow does not know fails the execution without a run record', async () => {
    const { outcome, record } = await run({ hello: 'world' });

    expect(outcome).toMatchObject({ status: 'FAILED', error: 'Drivetrain.InvalidInput' });
    expect(record).toBeUndefined();
  });

  test('a job that fails records the failure, notifies SNS and leaves the input to be retried', async () => {
    // GIVEN a well-formed log and a job that cannot run
    upload('raw/car-d/drive-4/log.mcap', Buffer.from('\x89MCAP0\r\n'));
    const notifications = etlPaths(dataDir).notifications;
    const before = sinkRecords<SunkNotification>(notifications).length;

    // WHEN it is ingested
    const { outcome, record } = await run({ keys: ['raw/car-d/drive-4/log.mcap'] });

    // THEN the execution fails, the run says why, and one notification names the run
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
    expect(record).toMatchObject({
      state: 'FAILED',
      engine: 'glue',
      error: 'States.TaskFailed',
      acceptedObjects: 1,
    });
    expect(JSON.parse(record!.errorCause!)).toMatchObject({
      JobRunState: 'FAILED',
      JobName: LOCAL_NAMES.glueJob,
    });
    const sent = sinkRecords<SunkNotification>(notifications).slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      Subject: 'Drivetrain ingest run failed',
      MessageAttributes: { runId: { DataType: 'String', StringValue: outcome.name } },
    });
    expect(JSON.parse(sent[0]!.Message)).toMatchObject({ runId: outcome.name, error: 'States.TaskFailed' });
    // No completion event, and no ledger entry: the next event or sweep tries it again.
    expect(
      sinkRecords<SunkEvent>(etlPaths(dataDir).events).filter((e) => e.detail.runId === outcome.name),
    ).toEqual([]);
    await expect(etl.runs.object('raw/car-d/drive-4/log.mcap')).resolves.toBeUndefined();
  });

  test('every request the runs above made is one the AWS service accepts (botocore models)', () => {
    const resources = new Set(requests.map(([resource]) => resource));

    expect(resources.size).toBeGreaterThanOrEqual(10);
    expect(requests.flatMap(([resource, parameters]) => requestViolations(resource, parameters))).toEqual([]);
  });

  test('the model check catches a request AWS would refuse', () => {
    const problems = requestViolations('arn:aws:states:::glue:startJobRun.sync', {
      JobName: '',
      Timeout: 'soon',
    });

    expect(problems).toEqual(
      expect.arrayContaining([expect.stringContaining('JobName'), expect.stringContaining('Timeout')]),
    );
  });
});

describe('local ingest workflow, engine choice', () => {
  test('runs above the EMR threshold go to EMR Serverless', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-emr-'));
    const base = localEtlSettings({}, { dataDir, emrThresholdBytes: 4 });
    const etl = await startLocalEtl({
      settings: { ...base, job: { ...base.job, module: 'drivetrain_spark.jobs.no_such_job' } },
      watch: false,
      persist: false,
      retryIntervalMs: 10,
    });
    try {
      const key = 'raw/car-e/drive-5/big.bag';
      const path = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw, ...key.split('/'));
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, '#ROSBAG V2.0\n');

      const outcome = await etl.workflow!.start({ keys: [key] }).done;

      const record = await etl.runs.run(outcome.name);
      expect(record).toMatchObject({ engine: 'emr-serverless', state: 'FAILED', error: 'States.TaskFailed' });
      expect(JSON.parse(record!.errorCause!)).toMatchObject({
        State: 'FAILED',
        ApplicationId: LOCAL_NAMES.emrApplication,
      });
    } finally {
      await etl.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('raw-folder watcher', () => {
  test('files landing together under raw/ start one run, with the events S3 would send; others start none', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-watch-'));
    const settings = localEtlSettings({ DRIVETRAIN_ETL_BATCH_WINDOW_MS: '300' }, { dataDir });
    const etl = await startLocalEtl({ settings, watch: true, persist: false });
    try {
      await etl.workflow!.idle(); // the start-up sweep of an empty raw folder
      const drive = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw, 'raw', 'car-w', 'drive-w');
      mkdirSync(drive, { recursive: true });

      // WHEN two empty logs (rejected before any Spark) and a file without an ingest suffix land
      writeFileSync(join(drive, 'a.mcap'), '');
      writeFileSync(join(drive, 'b.bag'), '');
      writeFileSync(join(drive, 'notes.txt'), 'x');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await etl.workflow!.idle();

      // THEN one run saw exactly the two logs, as an S3 event batch
      const runs = (await etl.runs.runs(10)).filter((r) => r.trigger === 's3-events');
      expect(runs).toHaveLength(1);
      expect([...runs[0]!.keys].sort()).toEqual(['raw/car-w/drive-w/a.mcap', 'raw/car-w/drive-w/b.bag']);
      expect(runs[0]).toMatchObject({ state: 'SUCCEEDED', rejectedObjects: 2 });
    } finally {
      await etl.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
