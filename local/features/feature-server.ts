import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import type { Redis } from 'ioredis';
import { LOCAL_TEAM_HEADER } from '../../api/identity';
import type { EnvironmentConfig } from '../../config/schema';
import { FeatureCatalog } from '../../features/catalog';
import { LocalPushLog } from '../../features/offline/push-log';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { WatermarkStore } from '../../features/online/online-loader';
import { DEFAULT_CACHE_POLICY, OnlineReader } from '../../features/online/online-reader';
import { ensureOnlineTable } from '../../features/online/online-table';
import { OnlineWriter } from '../../features/online/online-writer';
import { RedisFeatureCache } from '../../features/online/redis-cache';
import { cacheClient, cacheReady } from '../../features/online/redis-client';
import { createFeatureApi } from '../../features/serving/app';
import { FeatureServing } from '../../features/serving/feature-service';
import type { LocalDynamoDb } from '../dynalite';
import type { LocalRedis } from '../redis';
import {
  type LocalSparkPaths,
  type MaterializeProgress,
  materializeLocally,
  trainingSetLocally,
} from './spark-jobs';

/**
 * Next to the job API (8787). Not Feast's 6566: fetch refuses that port (it is on the WHATWG
 * "bad ports" list), and Feast clients name the URL in their config anyway.
 */
export const DEFAULT_FEATURE_PORT = 8788;
export const LOCAL_ONLINE_TABLE = 'drivetrain-features';

export interface LocalFeatureServerOptions {
  readonly environment: EnvironmentConfig;
  readonly db: LocalDynamoDb;
  readonly redis: LocalRedis;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly tableName?: string;
  /** Offline pushes land under `<dataDir>/push/`. */
  readonly dataDir: string;
  /**
   * Team of callers that send no `X-Drivetrain-Team` header, such as Feast's own client
   * (it sends no headers of ours). Local mode has no authentication in any case.
   */
  readonly defaultTeam?: string;
  readonly catalog?: FeatureCatalog;
  /** Enables the local-only routes that run the Spark jobs (`POST /materialize`, `POST /training-sets`). */
  readonly spark?: LocalSparkPaths;
}

export interface LocalFeatureServer {
  readonly url: string;
  readonly serving: FeatureServing;
  readonly reader: OnlineReader;
  readonly writer: OnlineWriter;
  readonly store: DynamoDbOnlineStore;
  readonly tableName: string;
  close(): Promise<void>;
}

/**
 * What Step Functions and Glue do on AWS, as routes of the local server so the CLI reaches
 * them the same way: materialization streams its progress as JSON lines.
 */
function addLocalJobRoutes(
  app: ReturnType<typeof createFeatureApi>,
  paths: LocalSparkPaths,
  catalog: FeatureCatalog,
  writer: OnlineWriter,
  watermarks: WatermarkStore,
): void {
  let running: Promise<void> | undefined;
  let examples: Record<string, Record<string, unknown>> = {};
  app.get('/examples', (c) => c.json(examples));
  app.post('/materialize', (c) => {
    if (running)
      return c.json(
        {
          error: 'Conflict',
          message: 'a materialization is running',
          fields: [{ field: '(run)', reason: 'one at a time' }],
        },
        409,
      );
    return stream(c, async (out) => {
      const send = (progress: MaterializeProgress | { type: 'error'; message: string }) => {
        if (progress.type === 'done') examples = { ...examples, ...progress.examples };
        return out.write(`${JSON.stringify(progress)}\n`);
      };
      running = materializeLocally({
        paths,
        catalog,
        writer,
        watermarks,
        batchRows: 5_000,
        onProgress: send,
      });
      try {
        await running;
      } catch (error) {
        await send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
      } finally {
        running = undefined;
      }
    });
  });
  app.post('/training-sets', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
    if (typeof body.entities !== 'string' || typeof body.out !== 'string')
      return c.json(
        {
          error: 'ValidationError',
          message: 'entities and out are required',
          fields: [{ field: 'entities', reason: 'a Parquet path' }],
        },
        422,
      );
    const manifest = await trainingSetLocally({
      paths,
      entities: body.entities,
      out: body.out,
      service: typeof body.feature_service === 'string' ? body.feature_service : undefined,
      features: Array.isArray(body.features) ? (body.features as string[]) : undefined,
      pins: typeof body.pins === 'string' ? body.pins : undefined,
    });
    return c.json(manifest);
  });
}

/** The feature API on this machine: the same app as the Lambda, over dynalite and redis-server. */
export async function startLocalFeatureServer(
  options: LocalFeatureServerOptions,
): Promise<LocalFeatureServer> {
  const tableName = options.tableName ?? LOCAL_ONLINE_TABLE;
  const catalog = options.catalog ?? new FeatureCatalog();
  await ensureOnlineTable(options.db.client, tableName);
  const store = new DynamoDbOnlineStore(options.db.client, tableName);
  const redis = cacheClient({ host: '127.0.0.1', port: options.redis.port }) as Redis;
  await cacheReady(redis);
  const cache = new RedisFeatureCache(redis);
  const reader = new OnlineReader(store, cache, DEFAULT_CACHE_POLICY);
  const writer = new OnlineWriter(store, cache, catalog.views);
  const serving = new FeatureServing({
    catalog,
    reader,
    writer,
    pushLog: new LocalPushLog(join(options.dataDir, 'features')),
  });
  const teams = new Set(options.environment.teams.map((t) => t.name));
  const resolveTeam = (c: Context) => {
    const team = c.req.header(LOCAL_TEAM_HEADER) ?? options.defaultTeam;
    return team && teams.has(team) ? team : undefined;
  };
  const app = createFeatureApi({ serving, reader, resolveTeam });
  if (options.spark)
    addLocalJobRoutes(app, options.spark, catalog, writer, new WatermarkStore(options.db.client, tableName));
  const host = options.host ?? '127.0.0.1';
  const server = serve({ fetch: app.fetch, hostname: host, port: options.port ?? DEFAULT_FEATURE_PORT });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    serving,
    reader,
    writer,
    store,
    tableName,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}
