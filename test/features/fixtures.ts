import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FeatureCatalog } from '../../features/catalog';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { type CachePolicy, OnlineReader } from '../../features/online/online-reader';
import { ensureOnlineTable } from '../../features/online/online-table';
import { OnlineWriter } from '../../features/online/online-writer';
import type { ViewRecord } from '../../features/online/record';
import { RedisFeatureCache } from '../../features/online/redis-cache';
import { cacheClient, cacheReady } from '../../features/online/redis-client';
import { FeatureServing } from '../../features/serving/feature-service';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../local/dynalite';
import { type LocalRedis, startLocalRedis } from '../../local/redis';

export const catalog = new FeatureCatalog();

/** dynalite and redis-server, both real, for one test file. */
export interface LocalServices {
  readonly db: LocalDynamoDb;
  readonly redis: LocalRedis;
  close(): Promise<void>;
}

export async function startServices(): Promise<LocalServices> {
  const [db, redis] = await Promise.all([startLocalDynamoDb(), startLocalRedis()]);
  return { db, redis, close: async () => void (await Promise.all([db.close(), redis.close()])) };
}

/** A fresh online table and key space over the services, with the read and write paths on them. */
export interface FeatureStack {
  readonly store: DynamoDbOnlineStore;
  readonly redis: Redis;
  readonly cache: RedisFeatureCache;
  readonly reader: OnlineReader;
  readonly writer: OnlineWriter;
  readonly serving: FeatureServing;
  readonly clock: { nowMs: number };
  close(): void;
}

export async function featureStack(
  services: LocalServices,
  policy: CachePolicy = { timeoutMs: 200, cooldownMs: 200, negativeTtlMs: 30_000 },
): Promise<FeatureStack> {
  const table = `features-${randomUUID().slice(0, 8)}`;
  await ensureOnlineTable(services.db.client, table);
  const store = new DynamoDbOnlineStore(services.db.client, table, { consistentRead: true });
  const redis = cacheClient({ host: '127.0.0.1', port: services.redis.port }) as Redis;
  await cacheReady(redis);
  await redis.flushall();
  const cache = new RedisFeatureCache(redis);
  const clock = { nowMs: Date.UTC(2026, 0, 1) };
  const reader = new OnlineReader(store, cache, policy, () => clock.nowMs);
  const writer = new OnlineWriter(store, cache, catalog.views);
  const serving = new FeatureServing({ catalog, reader, writer, nowUs: () => clock.nowMs * 1000 });
  return { store, redis, cache, reader, writer, serving, clock, close: () => redis.disconnect() };
}

/** A record of `view` with every feature set from `seed`, at event time `eventMs`. */
export function recordOf(view: string, eventMs: number, seed = 1, createdMs = eventMs): ViewRecord {
  const served = catalog.views.get(view)!;
  return {
    eventTimeUs: eventMs * 1000,
    createdUs: createdMs * 1000,
    version: served.version,
    values: served.definition.features.map((f, i) =>
      f.type === 'Int64' ? seed * 10 + i : Number((seed + i / 100).toFixed(2)),
    ),
  };
}
