import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApi } from '../api/app';
import { localHeaderTeam } from '../api/identity';
import { LocalProcessBackend } from '../backends/local-process';
import type { LocalRuntimeConfig } from '../config/local';
import { localPools, teamsOf } from '../jobs/cluster';
import { Dispatcher } from '../jobs/dispatcher';
import { queueReport } from '../jobs/queues';
import { JobService } from '../jobs/service';
import { ensureJobTable } from '../jobs/store/create-table';
import { DynamoDbJobStore } from '../jobs/store/dynamodb-job-store';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import { startLocalDynamoDb } from './dynalite';
import { localLogFiles } from './log-files';
import { SerialLoop } from './serial-loop';

export interface LocalPlatform {
  readonly url: string;
  readonly dispatcher: Dispatcher;
  close(): Promise<void>;
}

const JOB_TABLE = 'drivetrain-jobs';

/**
 * Drivetrain on one machine: the job API and the dispatcher that run in Lambda on AWS, over
 * dynalite for DynamoDB and a backend that runs each job's command as local processes.
 */
export async function startLocalPlatform(config: LocalRuntimeConfig): Promise<LocalPlatform> {
  const logDir = join(config.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const db = await startLocalDynamoDb({
    path: config.persist ? join(config.dataDir, 'dynamodb') : undefined,
  });
  await ensureJobTable(db.client, JOB_TABLE);
  const store = new DynamoDbJobStore(db.client, JOB_TABLE);
  const { environment } = config;
  const pools = localPools(environment, config.pools);
  const teams = teamsOf(environment);

  // The loop is declared before the backend and dispatcher that wake it.
  let loop: SerialLoop | undefined;
  // Status writes in flight, so close() lets them land before the database goes away.
  const statusWrites = new Set<Promise<void>>();
  const backend = new LocalProcessBackend({
    logDir,
    cwd: config.jobWorkingDir,
    gpusPerNode: config.pools.gpusPerNode,
    killGraceMs: config.killGraceMs,
    onStatus: (status) => {
      const write = dispatcher.applyStatus(status).then(
        () => loop?.wake(),
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
    pools,
    teams,
    backends: { local: backend },
    defaultBackend: 'local',
  });
  loop = new SerialLoop(
    () => dispatcher.round(),
    config.dispatchIntervalMs,
    (error) => console.error('dispatch round failed', error),
  );

  const service = new JobService({ store, environment, onSubmitted: () => loop?.wake() });
  const app = createApi({
    service,
    resolveTeam: localHeaderTeam(environment),
    queues: () => queueReport(store, pools, teams),
    logs: localLogFiles(logDir, store),
  });
  // Cancels reach the dispatcher at once, not at the next tick.
  app.use('/jobs/:id', async (c, next) => {
    await next();
    if (c.req.method === 'DELETE') loop?.wake();
  });

  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  loop.start();

  return {
    url: `http://${config.host}:${port}`,
    dispatcher,
    close: async () => {
      await loop?.stop();
      await backend.shutdown();
      await Promise.all(statusWrites);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}
