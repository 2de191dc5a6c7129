/**
 * The Drivetrain feature server in a process of its own for bench:features, so the load
 * generator never shares its event loop: `tsx bench/features-server.ts <registry.json>
 * <dynamodb endpoint> <redis port> <table> [--no-cache]`. Prints its URL when it listens.
 * `GET /bench-gc?since=<n>` answers its GC pauses (bench/gc-pauses.ts).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Redis } from 'ioredis';
import { FeatureCatalog } from '../features/catalog';
import type { Registry } from '../features/definitions/registry';
import { DynamoDbOnlineStore } from '../features/online/dynamodb-online-store';
import { DEFAULT_CACHE_POLICY, OnlineReader } from '../features/online/online-reader';
import { OnlineWriter } from '../features/online/online-writer';
import { RedisFeatureCache } from '../features/online/redis-cache';
import { cacheClient, cacheReady } from '../features/online/redis-client';
import { createFeatureApi } from '../features/serving/app';
import { FeatureServing } from '../features/serving/feature-service';
import { localDynamoDbClient } from '../local/dynalite';
import { BENCH_GC_PATH, gcPausesJson } from './gc-pauses';

const [registryPath, endpoint, redisPort, table] = process.argv.slice(2);
const catalog = new FeatureCatalog(JSON.parse(readFileSync(registryPath!, 'utf8')) as Registry);
const store = new DynamoDbOnlineStore(localDynamoDbClient(endpoint!), table!);
let cache: RedisFeatureCache | undefined;
if (!process.argv.includes('--no-cache')) {
  const redis = cacheClient({ host: '127.0.0.1', port: Number(redisPort) }) as Redis;
  await cacheReady(redis);
  cache = new RedisFeatureCache(redis);
}
const reader = new OnlineReader(store, cache, DEFAULT_CACHE_POLICY);
const serving = new FeatureServing({
  catalog,
  reader,
  writer: new OnlineWriter(store, cache, catalog.views),
});
const app = createFeatureApi({ serving, reader, resolveTeam: () => 'planning' });
const server = serve({
  fetch: (request) =>
    request.url.includes(BENCH_GC_PATH)
      ? new Response(gcPausesJson(request.url), { headers: { 'content-type': 'application/json' } })
      : app.fetch(request),
  hostname: '127.0.0.1',
  port: 0,
});
server.once('listening', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
// A clean exit on SIGTERM, so `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
