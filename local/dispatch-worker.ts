/**
 * The local dispatcher, on a worker thread of its own: like the dispatcher Lambda it runs
 * apart from the API, so a round over a large backlog never stalls API requests. It owns
 * the process backend, whose status reports reach it through an at-least-once queue, as
 * EventBridge → SQS brings Batch and SageMaker state changes to the dispatcher Lambda.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalProcessBackend, type ProcessGroupGuard } from '../backends/local-process';
import type { LocalRuntimeConfig } from '../config/local';
import { localPools, teamsOf } from '../jobs/cluster';
import { Dispatcher, type RoundSummary } from '../jobs/dispatcher';
import type { ComputeBackend } from '../jobs/ports';
import { DynamoDbDispatcherState } from '../jobs/store/dynamodb-dispatcher-state';
import { DynamoDbJobStore } from '../jobs/store/dynamodb-job-store';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import { LocalCheckpointDirs } from './checkpoint-dirs';
import { localDynamoDbClient } from './dynalite';
import {
  burstStatuses,
  burstTagOf,
  FaultLog,
  type FaultPlan,
  faultyBackend,
  faultySend,
  reordered,
  spawnWindowCrash,
} from './faults';
import { SerialLoop } from './serial-loop';
import { LocalStatusQueue } from './status-queue';

export interface DispatchWorkerData {
  readonly config: LocalRuntimeConfig;
  readonly dynamoDbEndpoint: string;
  readonly tableName: string;
  /** Live attempts no report confirmed for this long are confirmed with the process table. */
  readonly reconcileEveryS: number;
  /** Chaos testing only: faults to inject (local/faults.ts). */
  readonly faults?: FaultPlan;
}

/** Messages between the platform and this worker. */
export type ToDispatcher = { type: 'wake' } | { type: 'stop' };
export type FromDispatcher =
  | { type: 'ready' }
  | { type: 'stopped' }
  | {
      type: 'round';
      ms: number;
      statuses: number;
      queued: number;
      /** Chaos testing: how many of the statuses were of the fault plan's burst, by burst tag. */
      burstApplied: Record<string, number>;
      summary: RoundSummary;
    };

/** Reports one round takes off the queue at most (an SQS event source's batch, many times over). */
const STATUSES_PER_ROUND = 10_000;

const { config, dynamoDbEndpoint, tableName, reconcileEveryS, faults } = workerData as DispatchWorkerData;
const port = parentPort!;
const client = localDynamoDbClient(dynamoDbEndpoint);
const store = new DynamoDbJobStore(client, tableName);
const runDir = join(config.dataDir, 'run');
const checkpoints = new LocalCheckpointDirs(join(config.dataDir, 'checkpoints'));

// Durable across restarts, as SQS is: a report sent before a crash is applied after it.
mkdirSync(runDir, { recursive: true });
const queue = new LocalStatusQueue(30_000, 10, join(runDir, 'status-queue.jsonl'));
const send = faults
  ? faultySend(queue, faults)
  : (status: Parameters<LocalStatusQueue['send']>[0]) => queue.send(status);
const guard = processGroupGuard();
const processes = new LocalProcessBackend({
  logDir: join(config.dataDir, 'logs'),
  runDir: join(runDir, 'attempts'),
  cwd: config.jobWorkingDir,
  gpusPerNode: config.pools.gpusPerNode,
  killGraceMs: config.killGraceMs,
  checkpoints,
  groupGuard: guard,
  afterSpawn: faults && spawnWindowCrash(faults),
  onStatus: (status) => {
    send(status);
    loop.wake();
  },
});
const backend: ComputeBackend = faults ? faultyBackend(processes, faults) : processes;
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
  checkpoints,
  checkpointRefreshS: 1,
  reconcileEveryS,
  // The process table is the truth at once: an attempt it does not know is gone.
  lostAfterS: 0,
  backoff: { baseS: 0.5, maxS: 10, maxSubmitFailures: 8 },
});

let rounds = 0;
const loop = new SerialLoop(
  async () => {
    const started = Date.now();
    const batch = faults
      ? reordered(queue.receive(STATUSES_PER_ROUND), faults, rounds++)
      : queue.receive(STATUSES_PER_ROUND);
    let summary: RoundSummary;
    try {
      summary = await dispatcher.round(batch.map((message) => message.status));
    } catch (error) {
      queue.release(batch); // delivered again to the next round
      throw error;
    }
    queue.acknowledge(batch);
    const burstApplied: Record<string, number> = {};
    for (const { status } of faults ? batch : []) {
      const tag = burstTagOf(status);
      if (tag) burstApplied[tag] = (burstApplied[tag] ?? 0) + 1;
    }
    port.postMessage({
      type: 'round',
      ms: Date.now() - started,
      statuses: batch.length,
      queued: queue.depth,
      burstApplied,
      summary,
    } satisfies FromDispatcher);
    // More reports than one round takes: go again at once.
    if (queue.depth > 0) loop.wake();
  },
  config.dispatchIntervalMs,
  (error) => console.error('dispatch round failed', error),
  config.dispatchMinGapMs,
);

port.on('message', async (message: ToDispatcher) => {
  if (message.type === 'wake') loop.wake();
  if (message.type === 'stop') {
    await loop.stop();
    await processes.shutdown();
    // The attempts just stopped report INTERRUPTED: record it, so their jobs requeue.
    const last = queue.receive(STATUSES_PER_ROUND);
    for (const { status } of last) await dispatcher.applyStatus(status).catch(() => undefined);
    guard.close();
    client.destroy();
    port.postMessage({ type: 'stopped' } satisfies FromDispatcher);
  }
});

// Whatever an earlier lifetime left running is killed before anything new starts.
const reaped = await processes.recover();
if (reaped.length > 0) console.warn(`reaped ${reaped.length} attempts left running by an earlier run`);
loop.start();
if (faults?.burst) scheduleBurst(faults);
port.postMessage({ type: 'ready' } satisfies FromDispatcher);

/** Chaos testing: queues the plan's burst of reports once (a marker file keeps restarts from repeating it). */
function scheduleBurst(plan: FaultPlan): void {
  const marker = join(runDir, 'burst-done');
  if (existsSync(marker)) return;
  setTimeout(async () => {
    const live = [...(await store.listByState('RUNNING')), ...(await store.listByState('DISPATCHED'))];
    const tag = String(process.pid);
    const statuses = burstStatuses(live, plan.burst!.events, tag);
    queue.sendAll(statuses);
    // Recorded once queued: a runtime killed before this line runs the burst again when it restarts.
    new FaultLog(plan).record('event-burst', { events: statuses.length, live: live.length, tag });
    writeFileSync(marker, '');
    loop.wake();
  }, plan.burst!.afterMs).unref();
}

/**
 * local/process-reaper.mjs, told every attempt's process groups: it kills them when this
 * process dies, even by SIGKILL. Started again if it is killed itself.
 */
function processGroupGuard(): ProcessGroupGuard & { close(): void } {
  const script = new URL('./process-reaper.mjs', import.meta.url).pathname;
  const groups = new Set<number>();
  let closed = false;
  let reaper: ChildProcess;
  const startReaper = () => {
    reaper = spawn(process.execPath, [script], { stdio: ['pipe', 'ignore', 'inherit'] });
    reaper.stdin?.on('error', () => undefined);
    reaper.once('exit', () => {
      if (!closed) startReaper();
    });
    for (const pgid of groups) reaper.stdin?.write(`+${pgid}\n`);
  };
  startReaper();
  return {
    watch(pgid) {
      groups.add(pgid);
      reaper.stdin?.write(`+${pgid}\n`);
    },
    release(pgid) {
      groups.delete(pgid);
      reaper.stdin?.write(`-${pgid}\n`);
    },
    close() {
      closed = true;
      reaper.stdin?.end();
    },
  };
}
