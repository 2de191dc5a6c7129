import {
  copyFileSync,
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
import type { CliIo } from '../../cli/io';
import { main as cli } from '../../cli/main';
import { icebergTables } from '../../local/etl/iceberg-tables';
import { type ExecutionOutcome, etlPaths, LOCAL_NAMES } from '../../local/etl/ingest-runner';
import type { RunManifest, RunRecord } from '../../local/etl/run-table';
import { type LocalEtl, startLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { INGEST_SUCCEEDED_EVENT } from '../../step-functions/ingest';
import { type SunkEvent, type SunkNotification, sinkRecords } from './etl-fixtures';
import { requestViolations } from './etl-requests';

/**
 * The ingest workflow end to end on this machine: the ASL under the local interpreter, the
 * real Spark job on local[2] over a small real ROS 2 MCAP (shared/data), the Iceberg tables
 * it commits, the completion event, quarantine, and a real job failure.
 */

const TALKER = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'shared',
  'data',
  'sensor',
  'ros',
  'ros2-talker',
  'talker.mcap',
);
const DRIVE = 'raw/car-1/2024-05-01';
/** A Spark run on local[2] takes about a minute on a quiet two-core machine; CI may be busier. */
const SPARK_RUN_MS = 600_000;

/** Runs the CLI in-process against the test's data dir; resolves to its exit code and output. */
async function drivetrain(dataDir: string, ...argv: string[]) {
  const out: string[] = [];
  const io: CliIo = {
    stdout: (line) => out.push(line),
    stderr: (line) => out.push(line),
    env: { DRIVETRAIN_DATA_DIR: dataDir },
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
  const code = await cli(argv, io);
  return { code, output: out.join('\n') };
}

describe('ingest workflow end to end, with the real Spark job', () => {
  let dataDir: string;
  let etl: LocalEtl;
  let rawDir: string;
  let outcome: ExecutionOutcome;
  let run: RunRecord;
  let manifest: RunManifest;
  const requests: [string, unknown][] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-e2e-'));
    const settings = localEtlSettings({ DRIVETRAIN_ETL_BATCH_WINDOW_MS: '1500' }, { dataDir });
    const started: Promise<ExecutionOutcome>[] = [];
    etl = await startLocalEtl({
      settings,
      watch: true,
      retryIntervalMs: 100,
      onTaskRequest: (resource, parameters) => requests.push([resource, parameters]),
    });
    const start = etl.workflow!.start.bind(etl.workflow);
    // Keep hold of what the watcher starts, so the test can wait for it.
    etl.workflow!.start = (input, name) => {
      const execution = start(input, name);
      started.push(execution.done);
      return execution;
    };
    await etl.workflow!.idle(); // the start-up sweep of an empty raw folder

    // WHEN a real log, a corrupt one and a stray file land in the raw folder
    rawDir = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw, ...DRIVE.split('/'));
    mkdirSync(rawDir, { recursive: true });
    copyFileSync(TALKER, join(rawDir, 'talker.mcap'));
    writeFileSync(join(rawDir, 'truncated.mcap'), readFileSync(TALKER).subarray(0, 2000));
    writeFileSync(join(rawDir, 'notes.txt'), 'written by the driver');
    for (let i = 0; i < 600 && started.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    outcome = (await Promise.all(started))[0]!;
    run = (await etl.runs.run(outcome!.name))!;
    manifest = run.manifest!;
  }, SPARK_RUN_MS);
  afterAll(async () => {
    await etl?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('the watcher starts one run for the logs that landed, as the S3 events and the pipe do', () => {
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    // The stray file has no ingest suffix: no event, as the EventBridge rule filters it.
    expect(run).toMatchObject({
      state: 'SUCCEEDED',
      trigger: 's3-events',
      engine: 'glue',
      requestedObjects: 2,
      acceptedObjects: 2,
      rejectedObjects: 0,
    });
  });

  test('the manifest accounts for every input and the Iceberg tables hold what it says', async () => {
    const byName = Object.fromEntries(manifest.inputs.map((input) => [input.uri.split('/').at(-1), input]));
    expect(manifest.runId).toBe(outcome.name);
    expect(byName['talker.mcap']).toMatchObject({ status: 'ok', bytes: readFileSync(TALKER).length });
    expect(byName['truncated.mcap']).toMatchObject({ status: 'quarantined', reason: expect.any(String) });

    const tables = await icebergTables(etlPaths(dataDir).warehouse);
    expect(Object.keys(manifest.tables).length).toBeGreaterThan(0);
    for (const [name, entry] of Object.entries(manifest.tables)) {
      const table = tables.find((t) => t.name === name);
      expect(table, name).toBeDefined();
      expect(String(entry.snapshotId)).toBe(table!.snapshotId);
      expect(entry.rows).toBe(table!.rows);
    }
  });

  test('the corrupt input is quarantined under the run, the rest is ingested', () => {
    const quarantine = join(etlPaths(dataDir).buckets, LOCAL_NAMES.quarantine, 'runs', outcome.name);
    const files = readdirSync(quarantine, { recursive: true, encoding: 'utf8' });

    expect(files.some((file) => file.includes('truncated.mcap'))).toBe(true);
    expect(files.some((file) => file.includes('talker.mcap'))).toBe(false);
  });

  test('one completion event carries the manifest', () => {
    const events = sinkRecords<SunkEvent>(etlPaths(dataDir).events).filter(
      (e) => e.detail.runId === outcome.name,
    );

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: INGEST_SUCCEEDED_EVENT.source,
      'detail-type': INGEST_SUCCEEDED_EVENT.detailType,
      detail: { engine: 'glue', manifestUri: run.manifestUri, manifest: { runId: outcome.name } },
    });
    expect(Object.keys(events[0]!.detail.manifest!.tables).sort()).toEqual(
      Object.keys(manifest.tables).sort(),
    );
  });

  test('every request of the run, the Glue job run and the completion event included, follows the AWS models', () => {
    expect(requests.map(([resource]) => resource)).toEqual(
      expect.arrayContaining(['arn:aws:states:::glue:startJobRun.sync', 'arn:aws:states:::events:putEvents']),
    );
    expect(requests.flatMap(([resource, parameters]) => requestViolations(resource, parameters))).toEqual([]);
  });

  test('a duplicate event for an unchanged object is skipped without running Spark', async () => {
    const again = await etl.workflow!.start({ keys: [`${DRIVE}/talker.mcap`] }).done;

    await expect(etl.runs.run(again.name)).resolves.toMatchObject({
      state: 'SUCCEEDED',
      phase: 'nothing to ingest',
      skippedObjects: 1,
    });
  });

  test('drivetrain data runs, tables and show report the run and its tables', {
    timeout: SPARK_RUN_MS,
  }, async () => {
    const runs = await drivetrain(dataDir, 'data', 'runs', '--json');
    const tables = await drivetrain(dataDir, 'data', 'tables', '--json');
    const [table] = Object.keys(manifest.tables);
    const rows = await drivetrain(dataDir, 'data', 'show', table!, '--limit', '3', '--json');

    expect(runs.code).toBe(0);
    expect(JSON.parse(runs.output).runs.map((r: RunRecord) => r.runId)).toContain(outcome.name);
    expect(tables.code).toBe(0);
    const listed = JSON.parse(tables.output).tables as { name: string; rows: number; partitions?: number }[];
    expect(listed.find((t) => t.name === table)).toMatchObject({
      rows: manifest.tables[table!]!.rows,
      partitions: (manifest.tables[table!]!.partitions as unknown[]).length,
    });
    expect(rows.code).toBe(0);
    const shown = JSON.parse(rows.output).rows as Record<string, unknown>[];
    expect(shown.length).toBe(Math.min(3, manifest.tables[table!]!.rows));
    expect(shown[0]).toMatchObject({ vehicle_id: 'car-1', drive_id: '2024-05-01' });
  });
});

describe('ingest workflow end to end, when the job fails', () => {
  test('on EMR Serverless a job error records the failure and notifies SNS', {
    timeout: SPARK_RUN_MS,
  }, async () => {
    // GIVEN a job config the real job refuses, and a threshold that sends the run to EMR Serverless
    const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-e2e-fail-'));
    const settings = localEtlSettings(
      {},
      { dataDir, emrThresholdBytes: 1, jobConfig: { noSuchOption: true } },
    );
    const etl = await startLocalEtl({ settings, watch: false, persist: false, retryIntervalMs: 100 });
    try {
      const target = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw, ...DRIVE.split('/'), 'talker.mcap');
      mkdirSync(join(target, '..'), { recursive: true });
      copyFileSync(TALKER, target);

      // WHEN it runs
      const failed = await etl.workflow!.start({ keys: [`${DRIVE}/talker.mcap`] }).done;

      // THEN the execution, the run record and the notification all name the job's error
      expect(failed).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
      const record = await etl.runs.run(failed.name);
      expect(record).toMatchObject({ state: 'FAILED', engine: 'emr-serverless' });
      expect(JSON.parse(record!.errorCause!).StateDetails).toMatch(/unknown config keys/);
      const [notice] = sinkRecords<SunkNotification>(etlPaths(dataDir).notifications);
      expect(JSON.parse(notice!.Message)).toMatchObject({ runId: failed.name, error: 'States.TaskFailed' });
      expect(sinkRecords<SunkEvent>(etlPaths(dataDir).events)).toEqual([]);
      await expect(etl.runs.object(`${DRIVE}/talker.mcap`)).resolves.toBeUndefined();
    } finally {
      await etl.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
