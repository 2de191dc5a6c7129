import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Context } from 'hono';
import type { Redis } from 'ioredis';
import { LOCAL_TEAM_HEADER } from '../../api/identity';
import type { EnvironmentConfig } from '../../config/schema';
import { FeatureCatalog } from '../../features/catalog';
import { LocalPushLog } from '../../features/offline/push-log';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { DEFAULT_CACHE_POLICY, OnlineReader } from '../../features/online/online-reader';
import { ensureOnlineTable } from '../../features/online/online-table';
import { OnlineWriter } from '../../features/online/online-writer';
import { RedisFeatureCache } from '../../features/online/redis-cache';
import { cacheClient, cacheReady } from '../../features/online/redis-client';
import { createFeatureApi } from '../../features/serving/app';
import { FeatureServing } from '../../features/serving/feature-service';
import type { LocalDynamoDb } from '../dynalite';
import type { LocalRedis } from '../redis';

/** Feast's feature server listens on 6566; so does Drivetrain's locally, so Feast configs work as they are. */
export const DEFAULT_FEATURE_PORT = 6566;
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
