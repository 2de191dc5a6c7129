/**
 * `npm run bench:features -- --out <file.json>`: online feature reads through HTTP on local
 * services, side by side in one run:
 *   - drivetrain: Drivetrain's feature server (its own process) over redis-server, with
 *     dynalite behind it; `drivetrainCacheMiss` is the same server with no cache (every read
 *     a BatchGetItem on dynalite);
 *   - rawRedis: the floor, the same MGETs of the same bytes sent straight to Redis, pipelined;
 *   - feast: Feast's own Python feature server from PyPI (`feast serve`) over Feast's Redis
 *     online store, loaded with the same values through Feast's own write path.
 * Cases: 1 entity x 50 features and 100 entities x 50 features (one service of five views).
 * Latency is measured at the client, open loop at a steady moderate rate, from the moment
 * each request is sent; max req/s is autocannon's closed loop (10 connections), 0 errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type { Redis } from 'ioredis';
import { FeatureCatalog } from '../features/catalog';
import { buildRegistry } from '../features/definitions/registry';
import { type FeatureDefinitionsInput, parseDefinitions } from '../features/definitions/schema';
import { DynamoDbOnlineStore } from '../features/online/dynamodb-online-store';
import { entityKey } from '../features/online/entity-key';
import { ensureOnlineTable } from '../features/online/online-table';
import { OnlineWriter } from '../features/online/online-writer';
import type { RecordWrite } from '../features/online/ports';
import { RedisFeatureCache } from '../features/online/redis-cache';
import { cacheClient, cacheReady } from '../features/online/redis-client';
import { startLocalDynamoDb } from '../local/dynalite';
import { startLocalRedis } from '../local/redis';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    seconds: { type: 'string', default: '8' },
    'rate-1x50': { type: 'string', default: '200' },
    'rate-100x50': { type: 'string', default: '20' },
    entities: { type: 'string', default: '2000' },
    'max-seconds': { type: 'string', default: '4' },
  },
});
const root = join(import.meta.dirname, '..');
const seconds = Number(args.seconds);
const ENTITIES = Number(args.entities);
const VIEWS = 5;
const FEATURES_PER_VIEW = 10;
const CASES = {
  '1x50': { rows: 1, rate: Number(args['rate-1x50']) },
  '100x50': { rows: 100, rate: Number(args['rate-100x50']) },
};
type CaseName = keyof typeof CASES;

// One entity, five views of ten Float64 features, one service of all fifty.
const definitions: FeatureDefinitionsInput = {
  project: 'drivetrain',
  entities: [{ name: 'bench_entity', joinKeys: [{ name: 'entity_id', type: 'String' }] }],
  featureViews: Array.from({ length: VIEWS }, (_, v) => ({
    name: `bench_view_${v}`,
    entity: 'bench_entity',
    sources: ['can_signals' as const],
    // Only hashed into the version: benchmark views are written directly, never materialized.
    transform: 'drive_motion',
    ttlSeconds: 0,
    // The data does not change during the run: every read after the load is a cache hit.
    cacheTtlSeconds: 86_400,
    features: Array.from({ length: FEATURES_PER_VIEW }, (_, f) => ({
      name: `v${v}_f${f}`,
      type: 'Float64' as const,
    })),
  })),
  featureServices: [
    {
      name: 'bench_service',
      views: Array.from({ length: VIEWS }, (_, v) => ({ view: `bench_view_${v}` })),
      teams: ['planning'],
    },
  ],
};
const registry = buildRegistry(parseDefinitions(definitions), root);
const catalog = new FeatureCatalog(registry);
const entity = catalog.entities.get('bench_entity')!;
const ids = Array.from({ length: ENTITIES }, (_, i) => `e${String(i).padStart(6, '0')}`);
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const eventMs = Date.UTC(2026, 0, 1);

const scratch = mkdtempSync(join(tmpdir(), 'drivetrain-bench-features-'));
const children: ChildProcess[] = [];
process.once('exit', () => {
  for (const child of children) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

console.log(
  `loading ${ENTITIES} entities x ${VIEWS} views x ${FEATURES_PER_VIEW} features into dynalite, redis-server and Feast`,
);
const [db, redisServer] = await Promise.all([startLocalDynamoDb(), startLocalRedis()]);
const table = 'bench-features';
await ensureOnlineTable(db.client, table);
const redis = cacheClient({ host: '127.0.0.1', port: redisServer.port }) as Redis;
await cacheReady(redis);
const store = new DynamoDbOnlineStore(db.client, table, { writeConcurrency: 64 });
const cache = new RedisFeatureCache(redis);
const writer = new OnlineWriter(store, cache, catalog.views, 10_000);
const feastData: Record<string, Record<string, unknown[]>> = {};
const writes: RecordWrite[] = [];
for (const view of catalog.views.values()) {
  const columns: Record<string, unknown[]> = {
    entity_id: ids,
    event_timestamp: ids.map(() => new Date(eventMs).toISOString()),
  };
  const features = view.definition.features.map((f) => {
    const values = ids.map(() => random() * 100);
    columns[f.name] = values;
    return values;
  });
  feastData[view.name] = columns;
  ids.forEach((id, i) => {
    writes.push({
      key: entityKey(entity, [id]),
      view: view.name,
      record: {
        eventTimeUs: eventMs * 1000,
        createdUs: eventMs * 1000,
        version: view.version,
        values: features.map((c) => c[i]!),
      },
    });
  });
}
for (let i = 0; i < writes.length; i += 2_000) await writer.write(writes.slice(i, i + 2_000));

const registryPath = join(scratch, 'registry.json');
writeFileSync(registryPath, JSON.stringify(registry));
writeFileSync(join(scratch, 'feast-data.json'), JSON.stringify(feastData));

/** Starts a child and resolves to the first stdout line matching `ready`. */
function startChild(command: string, argv: string[], ready: RegExp, cwd = root): Promise<string> {
  const child = spawn(command, argv, {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FEAST_USAGE: 'False' },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = ready.exec(out);
      if (match) resolve(match[0]);
    });
    child.once('exit', (code) => reject(new Error(`${command} ${argv[0]} exited ${code}: ${out}`)));
  });
}
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const serverArgs = ['bench/features-server.ts', registryPath, db.endpoint, String(redisServer.port), table];
const drivetrainUrl = await startChild(tsx, serverArgs, /http:\/\/\S+/);
const cacheMissUrl = await startChild(tsx, [...serverArgs, '--no-cache'], /http:\/\/\S+/);
const feastPort = 6700 + Math.floor(random() * 200);
await startChild(
  join(root, '.venv-feast', 'bin', 'python'),
  [
    'bench_server.py',
    registryPath,
    join(scratch, 'feast-data.json'),
    join(scratch, 'feast-repo'),
    String(redisServer.port),
    String(feastPort),
  ],
  /ready/,
  join(root, 'features', 'feast'),
);
const feastUrl = `http://127.0.0.1:${feastPort}`;
await waitForHttp(`${feastUrl}/health`);

/** Request bodies of a case: `rows` distinct random entities each, precomputed. */
function bodies(rows: number, count = 500): { body: string; ids: string[] }[] {
  return Array.from({ length: count }, () => {
    const picked = Array.from({ length: rows }, () => ids[Math.floor(random() * ids.length)]!);
    return {
      ids: picked,
      body: JSON.stringify({ feature_service: 'bench_service', entities: { entity_id: picked } }),
    };
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/get-online-features`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.on('data', () => {});
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const cellKeys = (picked: string[]) =>
  picked.map((id) =>
    [...catalog.views.values()].map((view) =>
      RedisFeatureCache.keyOf({ key: entityKey(entity, [id]), view: view.name, version: view.version }),
    ),
  );

interface Latency {
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

/** Open loop at `rate`/s for `durationS`: each request is sent on schedule, whatever the previous did. */
async function steady(
  rate: number,
  durationS: number,
  fire: (i: number) => Promise<boolean>,
): Promise<Latency> {
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const total = Math.round(rate * durationS);
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    pending.push(
      fire(i).then(
        (ok) => {
          latencies.push(performance.now() - sent);
          if (!ok) errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(3));
  return { p50Ms: at(0.5), p99Ms: at(0.99), requests: total, errors };
}

/** autocannon's closed loop: the highest rate the server sustains, with the errors it made. */
async function maxRate(
  url: string,
  requestBodies: { body: string }[],
): Promise<{ rps: number; errors: number }> {
  let next = 0;
  const result = await autocannon({
    url: `${url}/get-online-features`,
    connections: 10,
    duration: Number(args['max-seconds']),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: requestBodies[next++ % requestBodies.length]!.body }),
      },
    ],
  });
  return {
    rps: Math.round(result.requests.average),
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function rawRedisMaxRate(keySets: string[][][], durationS: number): Promise<number> {
  let done = 0;
  const end = performance.now() + durationS * 1000;
  const loop = async (offset: number) => {
    for (let i = offset; performance.now() < end; i += 10) {
      await Promise.all(keySets[i % keySets.length]!.map((keys) => redis.mget(...keys)));
      done++;
    }
  };
  await Promise.all(Array.from({ length: 10 }, (_, i) => loop(i)));
  return Math.round(done / durationS);
}

type Result = Record<CaseName, { p50Ms: number; p99Ms: number; rps: number; errors: number }>;
const results: Record<'drivetrain' | 'rawRedis' | 'feast' | 'drivetrainCacheMiss', Partial<Result>> = {
  drivetrain: {},
  rawRedis: {},
  feast: {},
  drivetrainCacheMiss: {},
};
const http200 = (url: string, body: string) => post(url, body).then((status) => status === 200);

for (const [name, { rows, rate }] of Object.entries(CASES) as [CaseName, { rows: number; rate: number }][]) {
  const requestBodies = bodies(rows);
  const keySets = requestBodies.map((b) => cellKeys(b.ids));
  const targets: [
    keyof typeof results,
    (i: number) => Promise<boolean>,
    () => Promise<{ rps: number; errors: number }>,
  ][] = [
    [
      'drivetrain',
      (i) => http200(drivetrainUrl, requestBodies[i % requestBodies.length]!.body),
      () => maxRate(drivetrainUrl, requestBodies),
    ],
    [
      'rawRedis',
      (i) => Promise.all(keySets[i % keySets.length]!.map((keys) => redis.mget(...keys))).then(() => true),
      async () => ({ rps: await rawRedisMaxRate(keySets, Number(args['max-seconds'])), errors: 0 }),
    ],
    [
      'feast',
      (i) => http200(feastUrl, requestBodies[i % requestBodies.length]!.body),
      () => maxRate(feastUrl, requestBodies),
    ],
    [
      'drivetrainCacheMiss',
      (i) => http200(cacheMissUrl, requestBodies[i % requestBodies.length]!.body),
      () => maxRate(cacheMissUrl, requestBodies),
    ],
  ];
  for (const [target, fire, max] of targets) {
    await steady(rate, Math.min(2, seconds), fire); // warm-up: connections, JIT, Feast's registry cache
    const latency = await steady(rate, seconds, fire);
    const { rps, errors } = await max();
    results[target][name] = {
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      rps,
      errors: latency.errors + errors,
    };
    console.log(
      `${target.padEnd(20)} ${name.padEnd(7)} at ${rate}/s: p50 ${latency.p50Ms.toFixed(3)} ms  p99 ${latency.p99Ms.toFixed(3)} ms  max ${rps} req/s  errors ${latency.errors + errors}`,
    );
  }
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a && b ? Number((a / b).toFixed(2)) : undefined;
const report = {
  ...results,
  ratios: Object.fromEntries(
    (Object.keys(CASES) as CaseName[]).map((name) => [
      name,
      {
        feastP99OverDrivetrainP99: ratio(results.feast[name]?.p99Ms, results.drivetrain[name]?.p99Ms),
        drivetrainP99OverRawRedisP99: ratio(results.drivetrain[name]?.p99Ms, results.rawRedis[name]?.p99Ms),
      },
    ]),
  ),
  goals: Object.fromEntries(
    (Object.keys(CASES) as CaseName[]).map((name) => [
      name,
      {
        p99: {
          goalMs: name === '1x50' ? 1 : 5,
          met: (results.drivetrain[name]?.p99Ms ?? Infinity) <= (name === '1x50' ? 1 : 5),
        },
        tenTimesFeast: (ratio(results.feast[name]?.p99Ms, results.drivetrain[name]?.p99Ms) ?? 0) >= 10,
        withinTwiceRawRedis:
          (ratio(results.drivetrain[name]?.p99Ms, results.rawRedis[name]?.p99Ms) ?? Infinity) <= 2,
      },
    ]),
  ),
  setup: {
    entities: ENTITIES,
    views: VIEWS,
    featuresPerView: FEATURES_PER_VIEW,
    steadySeconds: seconds,
    rates: Object.fromEntries(Object.entries(CASES).map(([n, c]) => [n, c.rate])),
    maxRate: `autocannon, 10 connections, ${args['max-seconds']} s; rps is its average`,
    feast: 'feast 0.67.0 (features/feast/requirements.lock), feast serve, 1 worker, Redis online store',
    cpus: (await import('node:os')).cpus().length,
  },
};
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report.ratios));
redis.disconnect();
agent.destroy();
await Promise.all([db.close(), redisServer.close()]);
process.exit(0);

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer`);
}
