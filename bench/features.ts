/**
 * `npm run bench:features -- --out <file.json>`: online feature reads through HTTP on local
 * services, side by side in one run, two cases: 1 entity x 50 features and 100 entities x 50
 * features (one service of five views of ten Float64 features).
 *
 * Systems, each in a process of its own:
 *   - drivetrain: Drivetrain's feature server over redis-server (every read a cache hit),
 *     with dynalite behind it; `drivetrainCacheMiss`: the same server with no cache, so every
 *     read is a BatchGetItem on dynalite (reported on its own: dynalite is not DynamoDB);
 *   - rawRedis: the floor: one MGET of exactly the keys Drivetrain reads, raw bytes back;
 *   - httpFloor: a node:http server answering Drivetrain's response bytes with no work: what
 *     HTTP and the client cost on this machine;
 *   - feast: Feast's own Python feature server from PyPI over Feast's Redis online store,
 *     loaded through Feast's own write path, configured as its docs recommend for production
 *     (features/feast/bench_server.py).
 *
 * Method (features/feast, README "Feature store benchmark"):
 *   - one load generator process drives every system with the same loops; its client, not this
 *     process, is what talks to the servers. By default bench/features-load-go (Go: nanosleep
 *     pacing, replies read on any core), which matched vegeta on the HTTP floor where the Node
 *     generator (bench/features-load.ts, `--load-generator node`) added to the tail; no process
 *     is pinned or prioritised (`setup.cpuPlacement`);
 *   - max req/s: closed loop, `--concurrency` requests in flight for `--max-seconds`; the
 *     errors are reported with it;
 *   - latency: open loop on a fixed schedule at a moderate rate, measured from each request's
 *     due time (no coordinated omission), after a warm-up. The rate is the case's `--rate-*`,
 *     or half the system's own max where that is lower (Feast saturates at the common rate:
 *     its figures are then at a rate it sustains, which only flatters it). Each run has at
 *     least `--min-samples` requests unless that would pass `--max-run-seconds`;
 *   - with `--repeats N` the latency runs are repeated, systems interleaved, and each figure
 *     is the median with the spread beside it;
 *   - before timing, every system's answer to sample requests is checked against the data
 *     loaded: all systems do the same work.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { FeatureCatalog } from '../features/catalog';
import { buildRegistry } from '../features/definitions/registry';
import { parseDefinitions } from '../features/definitions/schema';
import { DynamoDbOnlineStore } from '../features/online/dynamodb-online-store';
import { entityKey } from '../features/online/entity-key';
import { ensureOnlineTable } from '../features/online/online-table';
import { OnlineWriter } from '../features/online/online-writer';
import type { RecordWrite } from '../features/online/ports';
import { RedisFeatureCache } from '../features/online/redis-cache';
import { cacheClient, cacheReady } from '../features/online/redis-client';
import { startLocalDynamoDb } from '../local/dynalite';
import { startLocalRedis } from '../local/redis';
import { BENCH_FEATURES_PER_VIEW, BENCH_VIEWS, benchDefinitions } from './features-definitions';
import type { LoadCommand, LoadReport, LoadTarget } from './features-load';
import { BENCH_GC_PATH, type GcPauses } from './gc-pauses';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    'rate-1x50': { type: 'string', default: '200' },
    'rate-100x50': { type: 'string', default: '20' },
    'min-samples': { type: 'string', default: '1000' },
    'max-run-seconds': { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '2' },
    'max-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
    repeats: { type: 'string', default: '1' },
    entities: { type: 'string', default: '2000' },
    'feast-workers': { type: 'string', default: String(2 * cpus().length + 1) },
    only: { type: 'string' },
    cases: { type: 'string' },
    profile: { type: 'string' },
    'server-node-flags': { type: 'string', default: '' },
    'load-generator': { type: 'string', default: 'go' },
    vegeta: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(`npm run bench:features -- [options]
  --out <file.json>          write the report there (its directory is created)
  --rate-1x50 <n>            open-loop rate of the 1x50 case, req/s (default 200)
  --rate-100x50 <n>          open-loop rate of the 100x50 case, req/s (default 20)
  --min-samples <n>          requests per latency run (default 1000), within --max-run-seconds (60)
  --warmup-seconds <s>       warm-up before every run (default 2)
  --max-seconds <s>          closed-loop run for the max req/s (default 5)
  --concurrency <n>          requests in flight in the closed loop (default 16)
  --repeats <n>              latency runs per system, interleaved; the median is reported (default 1)
  --entities <n>             entities loaded (default 2000)
  --feast-workers <n>        Feast server workers (default 2 x CPUs + 1, as feast serve --workers -1)
  --only <a,b>               systems: drivetrain,rawRedis,httpFloor,feast,drivetrainCacheMiss
  --cases <a,b>              cases: 1x50,100x50 (default both)
  --load-generator <go|node> go: bench/features-load-go (default; built by scripts/bench-tools.sh),
                             node: bench/features-load.ts (the generator of earlier runs)
  --vegeta                   also measure every HTTP system with vegeta (an established open-loop
                             tool, built by scripts/bench-tools.sh) at the same rate, for a cross-check
  --server-node-flags=<f>    node flags of the Drivetrain servers only (space-separated; after "=",
                             as they start with dashes), e.g. --server-node-flags=--max-semi-space-size=32
  --pin                      CPU placement (taskset): the load generator on CPU 0, everything else
                             (this process, dynalite, redis-server, every server and Feast's workers)
                             on CPU 1, the same for every system; default: nothing pinned
  --profile <dir>            write CPU profiles of the Drivetrain servers under <dir>/<server>/ (node --cpu-prof)`);
  process.exit(0);
}
const root = join(import.meta.dirname, '..');
/** Built by scripts/bench-tools.sh from bench/features-load-go. */
const GO_LOAD_GENERATOR = '.drivetrain/bin/features-load-go';
// This benchmark's own tools (Go), built here and not by scripts/bootstrap.sh: tests never need them.
if (args['load-generator'] === 'go' || args.vegeta)
  execFileSync('bash', [join(root, 'scripts', 'bench-tools.sh'), ...(args.vegeta ? ['--vegeta'] : [])], {
    stdio: 'inherit',
  });
// Pinned here, after the build: every process started from now on inherits CPU 1, and the load
// generator moves itself to CPU 0 once started (taskset -a: all its threads).
const PINNED_CPUS = { loadGenerator: '0', services: '1' } as const;
if (args.pin) {
  if (cpus().length < 2) throw new Error('--pin needs two CPUs');
  execFileSync('taskset', ['-a', '-p', '-c', PINNED_CPUS.services, String(process.pid)], { stdio: 'ignore' });
}
const pinLoadGenerator = (pid: number) => {
  if (args.pin)
    execFileSync('taskset', ['-a', '-p', '-c', PINNED_CPUS.loadGenerator, String(pid)], { stdio: 'ignore' });
};
const ENTITIES = Number(args.entities);
const VIEWS = BENCH_VIEWS;
const FEATURES_PER_VIEW = BENCH_FEATURES_PER_VIEW;
const CASES = {
  '1x50': { rows: 1, rate: Number(args['rate-1x50']), goalP99Ms: 1 },
  '100x50': { rows: 100, rate: Number(args['rate-100x50']), goalP99Ms: 5 },
};
type CaseName = keyof typeof CASES;
const onlyCases = args.cases ? new Set(args.cases.split(',')) : undefined;
const caseEntries = (Object.entries(CASES) as [CaseName, (typeof CASES)[CaseName]][]).filter(
  ([name]) => !onlyCases || onlyCases.has(name),
);
const SYSTEMS = ['drivetrain', 'rawRedis', 'httpFloor', 'feast', 'drivetrainCacheMiss'] as const;
type SystemName = (typeof SYSTEMS)[number];
const only = args.only ? new Set(args.only.split(',')) : undefined;
const systems = SYSTEMS.filter((s) => !only || only.has(s));

const registry = buildRegistry(parseDefinitions(benchDefinitions), root);
const catalog = new FeatureCatalog(registry);
const entity = catalog.entities.get('bench_entity')!;
const views = [...catalog.views.values()];
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
const writer = new OnlineWriter(store, new RedisFeatureCache(redis), catalog.views, 10_000);
const feastData: Record<string, Record<string, unknown[]>> = {};
/** The loaded value of each output feature name, by entity id: what every answer is checked against. */
const expected = new Map<string, Map<string, number>>();
const writes: RecordWrite[] = [];
for (const view of views) {
  const columns: Record<string, unknown[]> = {
    entity_id: ids,
    event_timestamp: ids.map(() => new Date(eventMs).toISOString()),
  };
  const features = view.definition.features.map((f) => {
    const values = ids.map(() => random() * 100);
    columns[f.name] = values;
    expected.set(f.name, new Map(ids.map((id, i) => [id, values[i]!])));
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

/** Starts a child and resolves to the first stdout match of `ready`, with the child's pid. */
function startChild(
  command: string,
  argv: string[],
  ready: RegExp,
  cwd = root,
): Promise<{ text: string; pid: number }> {
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
      if (match) resolve({ text: match[0], pid: child.pid! });
    });
    child.once('exit', (code) => reject(new Error(`${command} ${argv.join(' ')} exited ${code}: ${out}`)));
  });
}
/** Server process (tree) of each URL: its CPU time per request is reported beside its latency. */
const serverPids = new Map<string, number>();
/** A TypeScript entry point under plain node (no tsx supervisor process in between); resolves to its URL. */
async function nodeTs(file: string, argv: string[], nodeFlags: string[] = []): Promise<string> {
  const { text, pid } = await startChild(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', file, ...argv],
    /http:\/\/\S+/,
  );
  serverPids.set(text, pid);
  return text;
}

/**
 * CPU seconds (user + system) used so far by `pid` and all its descendants (Feast's workers),
 * and the milliseconds their threads have waited for a core (schedstat's run-queue wait: CPU
 * contention on this machine), from /proc.
 */
function treeUsage(pid: number): { cpuSeconds: number; runQueueMs: number } {
  const stats = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        // Fields after the command name, which is in parentheses and may hold spaces.
        const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        return [
          { pid: Number(entry), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) },
        ];
      } catch {
        return []; // exited meanwhile
      }
    });
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of stats)
      if (!tree.has(stat.pid) && tree.has(stat.ppid)) {
        tree.add(stat.pid);
        grew = true;
      }
  }
  let runQueueNs = 0;
  for (const member of tree)
    try {
      for (const task of readdirSync(`/proc/${member}/task`))
        runQueueNs += Number(readFileSync(`/proc/${member}/task/${task}/schedstat`, 'utf8').split(' ')[1]);
    } catch {} // exited meanwhile
  // USER_HZ is 100 on Linux.
  return {
    cpuSeconds: stats.reduce((sum, stat) => sum + (tree.has(stat.pid) ? stat.ticks : 0), 0) / 100,
    runQueueMs: runQueueNs / 1e6,
  };
}
const serverNodeFlags = args['server-node-flags'].split(' ').filter(Boolean);
const profileFlags = (name: string) => [
  ...serverNodeFlags,
  // A directory per server: tsx's loader thread writes a profile of its own beside the main thread's.
  ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', join(args.profile, name)] : []),
];

const serverArgs = [registryPath, db.endpoint, String(redisServer.port), table];
const urls: Partial<Record<SystemName, string>> = {};
if (systems.includes('drivetrain'))
  urls.drivetrain = await nodeTs('bench/features-server.ts', serverArgs, profileFlags('drivetrain'));
if (systems.includes('drivetrainCacheMiss'))
  urls.drivetrainCacheMiss = await nodeTs(
    'bench/features-server.ts',
    [...serverArgs, '--no-cache'],
    profileFlags('drivetrain-cache-miss'),
  );
const feastWorkers = Number(args['feast-workers']);
if (systems.includes('feast')) {
  const feastPort = 6700 + Math.floor(random() * 200);
  const feast = await startChild(
    join(root, '.venv-feast', 'bin', 'python'),
    [
      'bench_server.py',
      registryPath,
      join(scratch, 'feast-data.json'),
      join(scratch, 'feast-repo'),
      String(redisServer.port),
      String(feastPort),
      String(feastWorkers),
    ],
    /ready/,
    join(root, 'features', 'feast'),
  );
  urls.feast = `http://127.0.0.1:${feastPort}`;
  serverPids.set(urls.feast, feast.pid);
  await waitForHttp(`${urls.feast}/health`);
}

// The load generator: its own process (Go by default; README "Feature store benchmark").
const LOAD_GENERATORS = {
  go: `bench/features-load-go (Go ${GO_LOAD_GENERATOR}: net/http for HTTP, RESP over one pipelined connection for Redis; nanosleep pacing, a goroutine per request)`,
  node: 'bench/features-load.ts (Node: undici for HTTP, ioredis for Redis; Atomics.wait/setImmediate pacing on its one thread)',
} as const;
const loadGenerator = args['load-generator'] as keyof typeof LOAD_GENERATORS;
if (!(loadGenerator in LOAD_GENERATORS))
  throw new Error(`--load-generator: go or node, not ${loadGenerator}`);
let seq = 0;
const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
const answered = (message: { seq: number; result?: unknown; error?: string }) => {
  const waiter = waiting.get(message.seq)!;
  waiting.delete(message.seq);
  if (message.error) waiter.reject(new Error(message.error));
  else waiter.resolve(message.result);
};
let sendCommand: (message: { seq: number; command: LoadCommand }) => void;
if (loadGenerator === 'go') {
  const binary = join(root, GO_LOAD_GENERATOR);
  const load = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(load);
  pinLoadGenerator(load.pid!);
  createInterface({ input: load.stdout! }).on('line', (line) => answered(JSON.parse(line)));
  sendCommand = (message) => load.stdin!.write(`${JSON.stringify(message)}\n`);
} else {
  const load = fork(join(import.meta.dirname, 'features-load.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(load);
  pinLoadGenerator(load.pid!);
  load.on('message', answered);
  sendCommand = (message) => load.send(message);
}
function command<T>(body: LoadCommand): Promise<T> {
  const id = ++seq;
  return new Promise<T>((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
    sendCommand({ seq: id, command: body });
  });
}

/** Request bodies of a case: `rows` random entities each. */
function bodies(rows: number, count = 500): { body: string; ids: string[] }[] {
  return Array.from({ length: count }, () => {
    const picked = Array.from({ length: rows }, () => ids[Math.floor(random() * ids.length)]!);
    return {
      ids: picked,
      body: JSON.stringify({ feature_service: 'bench_service', entities: { entity_id: picked } }),
    };
  });
}

/** The cache keys Drivetrain reads for these entities: every view of each. */
const cacheKeys = (picked: string[]) =>
  picked.flatMap((id) =>
    views.map((view) =>
      RedisFeatureCache.keyOf({ key: entityKey(entity, [id]), view: view.name, version: view.version }),
    ),
  );

interface FeastJson {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses: string[] }[];
}

/** Asks `url` for `sample` and checks every value and status against the data loaded; returns the raw body. */
async function checkedAnswer(system: string, url: string, sample: { body: string; ids: string[] }) {
  const response = await fetch(`${url}/get-online-features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: sample.body,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${system} answered ${response.status}: ${text}`);
  const json = JSON.parse(text) as FeastJson;
  const names = json.metadata.feature_names;
  if (names.length !== 1 + VIEWS * FEATURES_PER_VIEW)
    throw new Error(`${system} answered ${names.length} columns`);
  names.forEach((name, column) => {
    if (name === 'entity_id') return;
    const result = json.results[column]!;
    sample.ids.forEach((id, row) => {
      const want = expected.get(name)?.get(id);
      if (result.statuses[row] !== 'PRESENT' || result.values[row] !== want)
        throw new Error(
          `${system}: ${name} of ${id} is ${result.values[row]} (${result.statuses[row]}), loaded ${want}`,
        );
    });
  });
  return text;
}

interface Measured {
  rate: number;
  rateNote?: string;
  max: LoadReport;
  serverCpuUsPerRequest?: number;
  runs: LoadReport[];
  tailSources: TailSources[];
  /** Drivetrain with its cache: the share of cells that fell back to DynamoDB (slow or tripped cache). */
  maxCacheFallbackShare?: number;
  runCacheFallbackShares: number[];
  /** `--vegeta`: the same open loop run by vegeta, after each of this generator's runs. */
  vegetaRuns: VegetaRun[];
}

/** Built by scripts/bench-tools.sh --vegeta (`go install`, the version pinned there). */
const VEGETA = '.drivetrain/bin/vegeta';
interface VegetaRun {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
}
/**
 * An open loop by vegeta (`vegeta attack -rate`) over the same request bodies, each a target
 * of its own, taken in turn. Its latencies count from its own send, not the due time.
 */
function vegetaRun(target: Extract<LoadTarget, { kind: 'http' }>, rate: number, seconds: number): VegetaRun {
  const dir = mkdtempSync(join(scratch, 'vegeta-'));
  const targets = target.bodies.map((body, i) => {
    writeFileSync(join(dir, `${i}.json`), body);
    return `POST ${target.url}${target.path}\nContent-Type: application/json\n@${join(dir, `${i}.json`)}\n`;
  });
  writeFileSync(join(dir, 'targets'), targets.join('\n'));
  const vegeta = join(root, VEGETA);
  const attack = (duration: number) =>
    execFileSync(
      vegeta,
      [
        'attack',
        `-targets=${join(dir, 'targets')}`,
        `-rate=${rate}/1s`,
        `-duration=${duration}s`,
        '-keepalive=true',
      ],
      { maxBuffer: 1 << 30 },
    );
  attack(warmupSeconds);
  const results = attack(seconds);
  const json = JSON.parse(
    execFileSync(vegeta, ['report', '-type=json'], { input: results, maxBuffer: 1 << 30 }).toString(),
  ) as { latencies: Record<string, number>; requests: number; status_codes: Record<string, number> };
  const ms = (ns: number) => Number((ns / 1e6).toFixed(3));
  return {
    p50Ms: ms(json.latencies['50th']!),
    p99Ms: ms(json.latencies['99th']!),
    maxMs: ms(json.latencies.max!),
    requests: json.requests,
    errors: json.requests - (json.status_codes['200'] ?? 0),
  };
}

/**
 * What else happened during one latency run, each candidate source of a tail measured on its
 * own: the load generator's send lag and latency from the actual send, its CPU per request, GC
 * pauses in the client and in the server, and the time each process's threads waited for a core.
 */
interface TailSources {
  sendLagP99Ms?: number;
  sendLagMaxMs?: number;
  fromSendP99Ms?: number;
  clientGc: GcPauses;
  clientCpuUsPerRequest: number;
  serverGc?: GcPauses;
  runQueueWaitMs: { client: number; server?: number; redis: number };
}
/** The servers that answer `GET /bench-gc` (Node servers of this benchmark; not Feast's). */
const GC_REPORTING = new Set<SystemName>(['drivetrain', 'drivetrainCacheMiss', 'httpFloor']);
async function serverGc(system: SystemName, target: LoadTarget, since = 0) {
  if (!GC_REPORTING.has(system) || target.kind !== 'http') return undefined;
  return (await (await fetch(`${target.url}${BENCH_GC_PATH}?since=${since}`)).json()) as GcPauses & {
    mark: number;
  };
}
const round3 = (value: number) => Number(value.toFixed(3));

interface CacheStats {
  cacheHits: number;
  cacheNegativeHits: number;
  cacheMisses: number;
  cacheFallbacks: number;
}
/** Cache counters of a Drivetrain server with a cache, or undefined for any other system. */
const cacheStatsOf = async (system: SystemName): Promise<CacheStats | undefined> =>
  system === 'drivetrain'
    ? ((await (await fetch(`${urls.drivetrain}/cache-stats`)).json()) as CacheStats)
    : undefined;
/** The share of cell lookups between two readings that fell back to DynamoDB. */
function fallbackShare(before: CacheStats | undefined, after: CacheStats | undefined): number | undefined {
  if (!before || !after) return undefined;
  const lookups = (s: CacheStats) => s.cacheHits + s.cacheNegativeHits + s.cacheMisses + s.cacheFallbacks;
  const total = lookups(after) - lookups(before);
  return total === 0 ? 0 : Number(((after.cacheFallbacks - before.cacheFallbacks) / total).toFixed(4));
}
const measured: Partial<Record<SystemName, Partial<Record<CaseName, Measured>>>> = {};
const minSamples = Number(args['min-samples']);
const maxRunSeconds = Number(args['max-run-seconds']);
const warmupSeconds = Number(args['warmup-seconds']);
const repeats = Number(args.repeats);

for (const [name, spec] of caseEntries) {
  const samples = bodies(spec.rows);
  const targets = new Map<SystemName, LoadTarget>();
  let drivetrainBody = '';
  for (const system of ['drivetrain', 'feast', 'drivetrainCacheMiss'] as const) {
    const url = urls[system];
    if (!url) continue;
    for (const sample of samples.slice(0, 5)) {
      const text = await checkedAnswer(system, url, sample);
      if (system === 'drivetrain') drivetrainBody ||= text;
    }
    targets.set(system, {
      kind: 'http',
      url,
      path: '/get-online-features',
      bodies: samples.map((s) => s.body),
    });
  }
  if (systems.includes('rawRedis'))
    targets.set('rawRedis', {
      kind: 'redis',
      port: redisServer.port,
      keySets: samples.map((s) => cacheKeys(s.ids)),
    });
  if (systems.includes('httpFloor')) {
    const responseFile = join(scratch, `response-${name}.json`);
    writeFileSync(
      responseFile,
      drivetrainBody || (await checkedAnswer('drivetrain', urls.drivetrain!, samples[0]!)),
    );
    const url = await nodeTs('bench/features-noop-server.ts', [responseFile]);
    targets.set('httpFloor', {
      kind: 'http',
      url,
      path: '/get-online-features',
      bodies: samples.map((s) => s.body),
    });
  }

  for (const [system, target] of targets) {
    const id = `${system}/${name}`;
    await command({ op: 'target', id, target });
    // Warm up (connections, JIT, Feast's registry cache), then the closed loop for the max.
    await command({ op: 'open', id, rate: Math.min(spec.rate, 20), seconds: warmupSeconds });
    const serverPid = target.kind === 'http' ? serverPids.get(target.url) : undefined;
    const cpuBefore = serverPid ? treeUsage(serverPid).cpuSeconds : 0;
    const statsBefore = await cacheStatsOf(system);
    const max = await command<LoadReport>({
      op: 'closed',
      id,
      concurrency: Number(args.concurrency),
      seconds: Number(args['max-seconds']),
    });
    // Server CPU per request at its max: what the load on the machine changes least.
    const serverCpuUsPerRequest = serverPid
      ? Math.round(((treeUsage(serverPid).cpuSeconds - cpuBefore) * 1e6) / max.requests)
      : undefined;
    const sustainable = Math.floor(max.achievedRps / 2);
    const rate = Math.max(1, Math.min(spec.rate, sustainable));
    measured[system] ??= {};
    measured[system][name] = {
      rate,
      ...(rate < spec.rate
        ? { rateNote: `saturates below ${spec.rate}/s (max ${max.achievedRps}/s): measured at half its max` }
        : {}),
      max,
      serverCpuUsPerRequest,
      maxCacheFallbackShare: fallbackShare(statsBefore, await cacheStatsOf(system)),
      runs: [],
      tailSources: [],
      runCacheFallbackShares: [],
      vegetaRuns: [],
    };
    console.log(
      `${system.padEnd(20)} ${name.padEnd(7)} max ${max.achievedRps} req/s (${max.errors} errors)${serverCpuUsPerRequest === undefined ? '' : `, server CPU ${serverCpuUsPerRequest} µs/request`}${measured[system][name].maxCacheFallbackShare === undefined ? '' : `, cache fallbacks ${measured[system][name].maxCacheFallbackShare}`}, latency at ${rate}/s`,
    );
  }
  for (let r = 0; r < repeats; r++) {
    for (const system of targets.keys()) {
      const entry = measured[system]![name]!;
      const id = `${system}/${name}`;
      const seconds = Math.min(maxRunSeconds, Math.max(5, minSamples / entry.rate));
      await command({ op: 'open', id, rate: entry.rate, seconds: warmupSeconds });
      const runStatsBefore = await cacheStatsOf(system);
      const target = targets.get(system)!;
      const serverPid = target.kind === 'http' ? serverPids.get(target.url) : undefined;
      const gcBefore = await serverGc(system, target);
      const serverQueueBefore = serverPid ? treeUsage(serverPid).runQueueMs : 0;
      const redisQueueBefore = treeUsage(redisServer.process.pid!).runQueueMs;
      const run = await command<LoadReport>({ op: 'open', id, rate: entry.rate, seconds });
      entry.runs.push(run);
      const serverGcRun = gcBefore && (await serverGc(system, target, gcBefore.mark));
      entry.tailSources.push({
        sendLagP99Ms: run.sendLagP99Ms,
        sendLagMaxMs: run.sendLagMaxMs,
        fromSendP99Ms: run.fromSendP99Ms,
        clientGc: run.clientGc,
        clientCpuUsPerRequest: run.clientCpuUsPerRequest,
        ...(serverGcRun
          ? { serverGc: { count: serverGcRun.count, totalMs: serverGcRun.totalMs, maxMs: serverGcRun.maxMs } }
          : {}),
        runQueueWaitMs: {
          client: run.clientRunQueueWaitMs,
          ...(serverPid ? { server: round3(treeUsage(serverPid).runQueueMs - serverQueueBefore) } : {}),
          redis: round3(treeUsage(redisServer.process.pid!).runQueueMs - redisQueueBefore),
        },
      });
      const share = fallbackShare(runStatsBefore, await cacheStatsOf(system));
      if (share !== undefined) entry.runCacheFallbackShares.push(share);
      console.log(
        `${system.padEnd(20)} ${name.padEnd(7)} at ${entry.rate}/s x ${run.requests}: p50 ${run.p50Ms} ms  p99 ${run.p99Ms} ms  p99.9 ${run.p999Ms} ms  max ${run.maxMs} ms  send lag p99 ${run.sendLagP99Ms} ms  errors ${run.errors}${share === undefined ? '' : `  cache fallbacks ${share}`}`,
      );
      console.log(`${''.padEnd(29)} tail sources ${JSON.stringify(entry.tailSources.at(-1))}`);
      if (args.vegeta && target.kind === 'http') {
        const checked = vegetaRun(target, entry.rate, seconds);
        entry.vegetaRuns.push(checked);
        console.log(`${''.padEnd(29)} vegeta at ${entry.rate}/s: ${JSON.stringify(checked)}`);
      }
    }
  }
  for (const system of targets.keys()) await command({ op: 'drop', id: `${system}/${name}` });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Number(((sorted[mid - 1]! + sorted[mid]!) / 2).toFixed(3));
};
const results = Object.fromEntries(
  Object.entries(measured).map(([system, byCase]) => [
    system,
    Object.fromEntries(
      Object.entries(byCase).map(([name, m]) => [
        name,
        {
          p50Ms: median(m.runs.map((r) => r.p50Ms)),
          p99Ms: median(m.runs.map((r) => r.p99Ms)),
          rps: m.max.achievedRps,
          maxRateErrors: m.max.errors,
          ...(m.serverCpuUsPerRequest === undefined
            ? {}
            : { serverCpuUsPerRequest: m.serverCpuUsPerRequest }),
          errors: m.runs.reduce((sum, r) => sum + r.errors, 0),
          rate: m.rate,
          ...(m.rateNote ? { rateNote: m.rateNote } : {}),
          samplesPerRun: m.runs[0]?.requests,
          ...(m.maxCacheFallbackShare === undefined
            ? {}
            : {
                cacheFallbackShareAtMax: m.maxCacheFallbackShare,
                cacheFallbackShareRuns: m.runCacheFallbackShares,
              }),
          p99MsRuns: m.runs.map((r) => r.p99Ms),
          p999Ms: median(m.runs.map((r) => r.p999Ms)),
          maxMs: Math.max(...m.runs.map((r) => r.maxMs)),
          sendLagP99Ms: Math.max(...m.runs.map((r) => r.sendLagP99Ms ?? 0)),
          tailSourcesRuns: m.tailSources,
          ...(m.vegetaRuns.length > 0
            ? {
                vegeta: {
                  p50Ms: median(m.vegetaRuns.map((r) => r.p50Ms)),
                  p99Ms: median(m.vegetaRuns.map((r) => r.p99Ms)),
                  runs: m.vegetaRuns,
                },
              }
            : {}),
          responseBytes: m.max.responseBytes,
        },
      ]),
    ),
  ]),
) as Partial<Record<SystemName, Partial<Record<CaseName, { p50Ms: number; p99Ms: number }>>>>;

const ratio = (a: number | undefined, b: number | undefined) =>
  a && b ? Number((a / b).toFixed(2)) : undefined;
const caseNames = caseEntries.map(([name]) => name);
const report = {
  ...results,
  ratios: Object.fromEntries(
    caseNames.map((name) => [
      name,
      {
        feastP99OverDrivetrainP99: ratio(results.feast?.[name]?.p99Ms, results.drivetrain?.[name]?.p99Ms),
        drivetrainP99OverRawRedisP99: ratio(
          results.drivetrain?.[name]?.p99Ms,
          results.rawRedis?.[name]?.p99Ms,
        ),
        drivetrainP99OverHttpFloorP99: ratio(
          results.drivetrain?.[name]?.p99Ms,
          results.httpFloor?.[name]?.p99Ms,
        ),
      },
    ]),
  ),
  goals: Object.fromEntries(
    caseNames.map((name) => {
      const p99 = results.drivetrain?.[name]?.p99Ms;
      return [
        name,
        {
          p99AtMostMs: {
            goal: CASES[name].goalP99Ms,
            measured: p99,
            met: (p99 ?? Infinity) <= CASES[name].goalP99Ms,
          },
          tenTimesLowerP99ThanFeast: (ratio(results.feast?.[name]?.p99Ms, p99) ?? 0) >= 10,
          withinTwiceRawRedisP99: (ratio(p99, results.rawRedis?.[name]?.p99Ms) ?? Infinity) <= 2,
        },
      ];
    }),
  ),
  // Cumulative over the run: a fallback to DynamoDB under load shows here.
  drivetrainCacheStats: urls.drivetrain
    ? await (await fetch(`${urls.drivetrain}/cache-stats`)).json()
    : undefined,
  setup: {
    entities: ENTITIES,
    views: VIEWS,
    featuresPerView: FEATURES_PER_VIEW,
    rates: Object.fromEntries(Object.entries(CASES).map(([n, c]) => [n, c.rate])),
    latency: `open loop, fixed schedule, latency from each due time, ${warmupSeconds} s warm-up, >= ${minSamples} samples per run (at most ${maxRunSeconds} s), median of ${repeats} run(s)`,
    maxRate: `closed loop, ${args.concurrency} in flight, ${args['max-seconds']} s`,
    loadGenerator: LOAD_GENERATORS[loadGenerator],
    ...(args.vegeta
      ? {
          crossCheck:
            'vegeta v12.13.0 (scripts/bench-tools.sh) after every HTTP latency run, same rate, duration and bodies; its latencies count from its own send',
        }
      : {}),
    cpuPlacement: args.pin
      ? `pinned (--pin, taskset): the load generator on CPU ${PINNED_CPUS.loadGenerator}; this process, dynalite, redis-server, every server and Feast's workers on CPU ${PINNED_CPUS.services}; the same for every system; no priorities`
      : 'none: no taskset or priority for any process; the load generator, every server and redis-server may run on any core, the same for every system',
    feast: `feast 0.67.0 (features/feast/requirements.lock), ${feastWorkers} gunicorn/uvicorn workers (feast serve --workers -1), registry_ttl_sec 60, Redis online store`,
    drivetrainServerNodeFlags: serverNodeFlags,
    cpus: cpus().length,
    loadAverageAtEnd: (await import('node:os')).loadavg().map((l) => Number(l.toFixed(2))),
  },
};
if (args.out) {
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
}
console.log(JSON.stringify({ ratios: report.ratios, goals: report.goals }));
redis.disconnect();
for (const child of children) child.kill('SIGTERM');
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
