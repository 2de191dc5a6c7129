import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { localDynamoDbClient, startLocalDynamoDb } from '../dynalite';
import { etlPaths, LOCAL_NAMES, type LocalEtlSettings, LocalIngestWorkflow } from './ingest-runner';
import { RawWatcher } from './raw-watcher';
import { ensureRunTable, RunTableReader } from './run-table';

/** The local sensor-ETL: its run table in dynalite, the workflow, and maybe the raw watcher. */
export interface LocalEtl {
  readonly settings: LocalEtlSettings;
  readonly dynamoDb: DynamoDBClient;
  readonly runs: RunTableReader;
  /** Present where this process runs executions (the owner of the runtime). */
  readonly workflow?: LocalIngestWorkflow;
  /** Whether some process watches the raw folder (and so starts runs for new files). */
  readonly watching: boolean;
  close(): Promise<void>;
}

interface RuntimeFile {
  readonly pid: number;
  readonly dynamoDbEndpoint: string;
  readonly watching: boolean;
}

const runtimeFile = (dataDir: string) => join(dataDir, 'etl', 'runtime.json');

export interface StartLocalEtlOptions {
  readonly settings: LocalEtlSettings;
  /** Watch the raw folder and start runs for new files, as S3 events do. */
  readonly watch: boolean;
  /** Keep the run table on disk (the default); tests run in memory. */
  readonly persist?: boolean;
  readonly onProgress?: (execution: string, line: string) => void;
  readonly retryIntervalMs?: number;
  readonly onTaskRequest?: (resource: string, parameters: unknown) => void;
}

/**
 * Starts the local sensor-ETL in this process. Other processes (the CLI) find its run table
 * through `.drivetrain/etl/runtime.json` while it runs. With `watch`, files dropped into the
 * raw folder start runs, and a first sweep picks up what arrived while nothing watched.
 */
export async function startLocalEtl(options: StartLocalEtlOptions): Promise<LocalEtl> {
  const { settings } = options;
  const paths = etlPaths(settings.dataDir);
  const rawDir = join(paths.buckets, LOCAL_NAMES.raw);
  mkdirSync(join(rawDir, 'raw'), { recursive: true });
  const db = await startLocalDynamoDb({ path: options.persist === false ? undefined : paths.dynamoDb });
  await ensureRunTable(db.client, settings.tableName);
  const workflow = new LocalIngestWorkflow({
    settings,
    dynamoDb: db.client,
    onProgress: options.onProgress,
    retryIntervalMs: options.retryIntervalMs,
    onTaskRequest: options.onTaskRequest,
  });
  const watcher = options.watch
    ? new RawWatcher({
        bucketDir: rawDir,
        bucketName: LOCAL_NAMES.raw,
        batchWindowMs: settings.eventBatchWindowMs,
        maxBatch: settings.data.maxObjectsPerRun,
        start: (batch) => workflow.start(batch),
      })
    : undefined;
  if (watcher) workflow.start({ sweep: {} });
  const file = runtimeFile(settings.dataDir);
  if (options.persist !== false) {
    const runtime: RuntimeFile = { pid: process.pid, dynamoDbEndpoint: db.endpoint, watching: options.watch };
    writeFileSync(file, JSON.stringify(runtime));
  }
  return {
    settings,
    dynamoDb: db.client,
    runs: new RunTableReader(db.client, settings.tableName),
    workflow,
    watching: options.watch,
    close: async () => {
      watcher?.close();
      await workflow.close();
      if (options.persist !== false) rmSync(file, { force: true });
      await db.close();
    },
  };
}

/**
 * The local sensor-ETL for one command: the running one's run table when a runtime is up
 * (another process then owns executions), else a runtime started here, without a watcher.
 */
export async function openLocalEtl(settings: LocalEtlSettings): Promise<LocalEtl> {
  const running = await runningRuntime(settings.dataDir);
  if (running) {
    const client = localDynamoDbClient(running.dynamoDbEndpoint);
    return {
      settings,
      dynamoDb: client,
      runs: new RunTableReader(client, settings.tableName),
      watching: running.watching,
      close: async () => client.destroy(),
    };
  }
  return startLocalEtl({ settings, watch: false });
}

async function runningRuntime(dataDir: string): Promise<RuntimeFile | undefined> {
  const file = runtimeFile(dataDir);
  if (!existsSync(file)) return undefined;
  const runtime = JSON.parse(readFileSync(file, 'utf8')) as RuntimeFile;
  try {
    process.kill(runtime.pid, 0);
  } catch {
    rmSync(file, { force: true }); // left by a runtime that was killed
    return undefined;
  }
  const client = localDynamoDbClient(runtime.dynamoDbEndpoint);
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return runtime;
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}
