import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { serve } from '@hono/node-server';
import { createApi, LOCAL_HOSTS } from '../api/app';
import { localHeaderTeam } from '../api/identity';
import type { LocalRuntimeConfig } from '../config/local';
import { localPools, teamsOf } from '../jobs/cluster';
import { latestQueueReport } from '../jobs/queues';
import { JobService } from '../jobs/service';
import { ensureJobTable } from '../jobs/store/create-table';
import { DynamoDbDispatcherState } from '../jobs/store/dynamodb-dispatcher-state';
import { DynamoDbJobStore } from '../jobs/store/dynamodb-job-store';
import type { DispatchWorkerData, FromDispatcher, ToDispatcher } from './dispatch-worker';
import { startLocalDynamoDb } from './dynalite';
import type { FaultPlan } from './faults';
import { localLogFiles } from './log-files';

export interface LocalPlatform {
  readonly url: string;
  close(): Promise<void>;
}

const JOB_TABLE = 'drivetrain-jobs';

/**
 * Drivetrain on one machine, laid out as on AWS: DynamoDB (dynalite) in its own process, the
 * job API on this thread, and the dispatcher with the process backend on a worker thread,
 * woken on submissions and cancels as EventBridge wakes the dispatcher Lambda.
 */
export interface LocalPlatformOptions {
  /** Chaos testing only: faults the dispatcher and its backend inject. */
  readonly faults?: FaultPlan;
  /** Reports each dispatcher round (its time, the status reports it applied). */
  readonly onRound?: (round: Extract<FromDispatcher, { type: 'round' }>) => void;
}

export async function startLocalPlatform(
  config: LocalRuntimeConfig,
  options: LocalPlatformOptions = {},
): Promise<LocalPlatform> {
  const logDir = join(config.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const db = await startLocalDynamoDb({
    path: config.persist ? join(config.dataDir, 'dynamodb') : undefined,
    runDir: join(config.dataDir, 'run'),
    onRestart: (code) => console.warn(`dynalite exited (${code}) and was started again`),
  });
  await ensureJobTable(db.client, JOB_TABLE);
  const store = new DynamoDbJobStore(db.client, JOB_TABLE);
  const dispatcherState = new DynamoDbDispatcherState(db.client, JOB_TABLE);
  const { environment } = config;

  const dispatcher = await startDispatchWorker({
    config,
    dynamoDbEndpoint: db.endpoint,
    tableName: JOB_TABLE,
    reconcileEveryS: Number(process.env.DRIVETRAIN_RECONCILE_INTERVAL_S ?? 2),
    faults: options.faults,
  });
  if (options.onRound) {
    const onRound = options.onRound;
    dispatcher.on('message', (message: FromDispatcher) => {
      if (message.type === 'round') onRound(message);
    });
  }
  const wake = () => dispatcher.postMessage({ type: 'wake' } satisfies ToDispatcher);
  const service = new JobService({
    store,
    environment,
    backends: ['local'],
    onSubmitted: wake,
    onCancelRequested: wake,
  });
  const pools = localPools(environment, config.pools);
  const teams = teamsOf(environment);
  const app = createApi({
    service,
    resolveTeam: localHeaderTeam(environment),
    queues: () => latestQueueReport(dispatcherState, store, pools, teams),
    logs: localLogFiles(logDir, store),
    allowedHosts: LOCAL_HOSTS,
  });

  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${config.host}:${port}`,
    close: async () => {
      const stopped = nextMessage(dispatcher, 'stopped');
      dispatcher.postMessage({ type: 'stop' } satisfies ToDispatcher);
      await stopped;
      await dispatcher.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}

async function startDispatchWorker(data: DispatchWorkerData): Promise<Worker> {
  const worker = new Worker(new URL('./dispatch-worker-entry.mjs', import.meta.url), { workerData: data });
  await nextMessage(worker, 'ready');
  return worker;
}

function nextMessage(worker: Worker, type: FromDispatcher['type']): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromDispatcher) => {
      if (message.type !== type) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`dispatcher worker exited with ${code}`)));
  });
}
