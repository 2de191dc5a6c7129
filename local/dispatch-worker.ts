/**
 * The local dispatcher, on a worker thread of its own: like the dispatcher Lambda it runs
 * apart from the API, so a round over a large backlog never stalls API requests. It owns
 * the process backend, so job processes report to it directly.
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalProcessBackend } from '../backends/local-process';
import type { LocalRuntimeConfig } from '../config/local';
import { localPools, teamsOf } from '../jobs/cluster';
import { Dispatcher } from '../jobs/dispatcher';
import { DynamoDbDispatcherState } from '../jobs/store/dynamodb-dispatcher-state';
import { DynamoDbJobStore } from '../jobs/store/dynamodb-job-store';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import { localDynamoDbClient } from './dynalite';
import { SerialLoop } from './serial-loop';

export interface DispatchWorkerData {
  readonly config: LocalRuntimeConfig;
  readonly dynamoDbEndpoint: string;
  readonly tableName: string;
}

/** Messages between the platform and this worker. */
export type ToDispatcher = { type: 'wake' } | { type: 'stop' };
export type FromDispatcher = { type: 'ready' } | { type: 'stopped' };

const { config, dynamoDbEndpoint, tableName } = workerData as DispatchWorkerData;
const port = parentPort!;
const client = localDynamoDbClient(dynamoDbEndpoint);
const store = new DynamoDbJobStore(client, tableName);

// Status writes in flight, so stopping lets them land before the database goes away.
const statusWrites = new Set<Promise<void>>();
const backend = new LocalProcessBackend({
  logDir: join(config.dataDir, 'logs'),
  cwd: config.jobWorkingDir,
  gpusPerNode: config.pools.gpusPerNode,
  killGraceMs: config.killGraceMs,
  onStatus: (status) => {
    const write = dispatcher.applyStatus(status).then(
      () => loop.wake(),
      (error: unknown) => console.error('status update failed', error),
    );
    statusWrites.add(write);
    void write.finally(() => statusWrites.delete(write));
  },
});
const dispatcher = new Dispatcher({
  store,
  policy: new DrivetrainPolicy({
    ...DEFAULT_DRIVETRAIN_CONFIG,
    preemption: { ...DEFAULT_DRIVETRAIN_CONFIG.preemption, graceS: config.preemptionGraceS },
  }),
  pools: localPools(config.environment, config.pools),
  teams: teamsOf(config.environment),
  backends: { local: backend },
  defaultBackend: 'local',
  stateStore: new DynamoDbDispatcherState(client, tableName),
});
const loop = new SerialLoop(
  () => dispatcher.round(),
  config.dispatchIntervalMs,
  (error) => console.error('dispatch round failed', error),
  config.dispatchMinGapMs,
);

port.on('message', async (message: ToDispatcher) => {
  if (message.type === 'wake') loop.wake();
  if (message.type === 'stop') {
    await loop.stop();
    await backend.shutdown();
    await Promise.all(statusWrites);
    client.destroy();
    port.postMessage({ type: 'stopped' } satisfies FromDispatcher);
  }
});
loop.start();
port.postMessage({ type: 'ready' } satisfies FromDispatcher);
