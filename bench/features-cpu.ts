/**
 * CPU per request of the feature API's read path, 1x50 and 100x50 (bench:features' shape: one
 * service of 5 views x 10 Float64 features), every read a cache hit:
 * `tsx bench/features-cpu.ts [--seconds 5] [--concurrency 4] [--rows 1,100] [--profile <prefix>]
 * [--heap-profile <prefix>]` (every allocation sampled, what the read path allocates).
 * The server runs in this process (`--profile` writes a CPU profile of each measured run, and
 * of nothing else), the load generator (bench/features-load.ts) in its own; CPU is this process's user + system time
 * over a closed loop, divided by the requests answered. A quick check between changes; the
 * figures to report come from bench:features.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import type { Redis } from 'ioredis';
import { FeatureCatalog } from '../features/catalog';
import { buildRegistry } from '../features/definitions/registry';
import { parseDefinitions } from '../features/definitions/schema';
import { DynamoDbOnlineStore } from '../features/online/dynamodb-online-store';
import { entityKey } from '../features/online/entity-key';
import { DEFAULT_CACHE_POLICY, OnlineReader } from '../features/online/online-reader';
import { ensureOnlineTable } from '../features/online/online-table';
import { OnlineWriter } from '../features/online/online-writer';
import { RedisFeatureCache } from '../features/online/redis-cache';
import { cacheClient, cacheReady } from '../features/online/redis-client';
import { createFeatureApi } from '../features/serving/app';
import { FeatureServing } from '../features/serving/feature-service';
import { startLocalDynamoDb } from '../local/dynalite';
import { startLocalRedis } from '../local/redis';
import { benchDefinitions } from './features-definitions';
import type { LoadCommand, LoadReport } from './features-load';
import { gcMark, gcPausesSince } from './gc-pauses';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    entities: { type: 'string', default: '400' },
    rows: { type: 'string', default: '1,100' },
    profile: { type: 'string' },
    'heap-profile': { type: 'string' },
  },
});
const registry = buildRegistry(parseDefinitions(benchDefinitions), join(import.meta.dirname, '..'));
const catalog = new FeatureCatalog(registry);
const entity = catalog.entities.get('bench_entity')!;
const ids = Array.from({ length: Number(args.entities) }, (_, i) => `e${String(i).padStart(6, '0')}`);
let seed = 7;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

const [db, redisServer] = await Promise.all([startLocalDynamoDb(), startLocalRedis()]);
const table = 'bench-features-cpu';
await ensureOnlineTable(db.client, table);
const redis = cacheClient({ host: '127.0.0.1', port: redisServer.port }) as Redis;
await cacheReady(redis);
const store = new DynamoDbOnlineStore(db.client, table, { writeConcurrency: 64 });
const cache = new RedisFeatureCache(redis);
const writer = new OnlineWriter(store, cache, catalog.views, 10_000);
const eventUs = Date.UTC(2026, 0, 1) * 1000;
await writer.write(
  [...catalog.views.values()].flatMap((view) =>
    ids.map((id) => ({
      key: entityKey(entity, [id]),
      view: view.name,
      record: {
        eventTimeUs: eventUs,
        createdUs: eventUs,
        version: view.version,
        values: view.definition.features.map(() => random() * 100),
      },
    })),
  ),
);

// A budget no cache hit misses on a loaded machine (redis-server shares the cores): this measures the hit path alone.
const reader = new OnlineReader(store, cache, { ...DEFAULT_CACHE_POLICY, timeoutMs: 1_000 });
const serving = new FeatureServing({ catalog, reader, writer });
const app = createFeatureApi({ serving, reader, resolveTeam: () => 'planning' });
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const load = fork(join(import.meta.dirname, 'features-load.ts'), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
let seq = 0;
const waiting = new Map<number, (result: unknown) => void>();
load.on('message', (message: { seq: number; result?: unknown; error?: string }) => {
  if (message.error) throw new Error(message.error);
  waiting.get(message.seq)!(message.result);
  waiting.delete(message.seq);
});
const command = <T>(body: LoadCommand) =>
  new Promise<T>((resolve) => {
    waiting.set(++seq, resolve as (result: unknown) => void);
    load.send({ seq, command: body });
  });

const profiler = new Session();
profiler.connect();
for (const rows of args.rows.split(',').map(Number)) {
  const id = `drivetrain/${rows}x50`;
  const bodies = Array.from({ length: 200 }, () =>
    JSON.stringify({
      feature_service: 'bench_service',
      entities: { entity_id: Array.from({ length: rows }, () => ids[Math.floor(random() * ids.length)]!) },
    }),
  );
  await command({ op: 'target', id, target: { kind: 'http', url, path: '/get-online-features', bodies } });
  await command({ op: 'closed', id, concurrency: Number(args.concurrency), seconds: 2 });
  if (args.profile) {
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  // Every allocation sampled, collected or not: what the read path allocates, not what it keeps.
  if (args['heap-profile'])
    await profiler.post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  const gcBefore = gcMark();
  const before = process.cpuUsage();
  const fallbacksBefore = reader.stats.cacheFallbacks;
  const run = await command<LoadReport>({
    op: 'closed',
    id,
    concurrency: Number(args.concurrency),
    seconds: Number(args.seconds),
  });
  const used = process.cpuUsage(before);
  const gc = gcPausesSince(gcBefore);
  if (args.profile) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(`${args.profile}-${rows}x50.cpuprofile`, JSON.stringify(profile));
  }
  if (args['heap-profile']) {
    const { profile } = await profiler.post('HeapProfiler.stopSampling');
    writeFileSync(`${args['heap-profile']}-${rows}x50.heapprofile`, JSON.stringify(profile));
  }
  console.log(
    `${rows}x50: ${run.achievedRps} req/s, ${Math.round((used.user + used.system) / run.requests)} µs CPU/request, ${run.responseBytes} response bytes, p50 ${run.p50Ms} ms, ${run.errors} errors, ${reader.stats.cacheFallbacks - fallbacksBefore} cache fallbacks, GC ${gc.count} pauses (${Math.round((gc.totalMs * 1000) / run.requests)} µs/request, max ${gc.maxMs} ms)`,
  );
}
load.kill();
server.close();
redis.disconnect();
await Promise.all([redisServer.close(), db.close()]);
process.exit(0);
