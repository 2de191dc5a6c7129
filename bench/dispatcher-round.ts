/**
 * One full dispatcher round, as the Lambda runs it: load the live jobs from the job table,
 * decide, write the outcome (claims, backend submits, why-pending reasons, the state item),
 * against dynalite with 10,000 pending jobs. The compute backends are recording control
 * planes (nothing runs); the store, the table and the policy are the real ones.
 * Usage: npm run bench:dispatcher -- [--out bench/results/dispatcher-round.json] [--pending 10000]
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { environmentConfig } from '../config/environments';
import { awsPools, teamsOf } from '../jobs/cluster';
import { Dispatcher } from '../jobs/dispatcher';
import type { BackendKind, Dispatch } from '../jobs/job';
import type { BackendSubmission, ComputeBackend, DispatcherStateStore, JobStore } from '../jobs/ports';
import { JobService } from '../jobs/service';
import { ensureJobTable } from '../jobs/store/create-table';
import { DynamoDbDispatcherState } from '../jobs/store/dynamodb-dispatcher-state';
import { DynamoDbJobStore } from '../jobs/store/dynamodb-job-store';
import { startLocalDynamoDb } from '../local/dynalite';
import { DrivetrainPolicy } from '../scheduler/drivetrain/policy';
import type { SchedulingPolicy } from '../scheduler/policy';
import { uniformHash } from '../simulator/workload';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'bench/results/dispatcher-round.json' },
    pending: { type: 'string', default: '10000' },
  },
});
const PENDING = Number(args.pending);
const SUBMIT_CONCURRENCY = 16;
const ENVIRONMENT = 'staging';

/** A control plane that accepts every submit and remembers names, as Batch does. */
class RecordingBackend implements ComputeBackend {
  private readonly ids = new Map<string, string>();
  constructor(readonly kind: BackendKind) {}
  async submit({ dispatch }: BackendSubmission) {
    const backendJobId = this.ids.get(dispatch.name) ?? randomUUID();
    this.ids.set(dispatch.name, backendJobId);
    return { backendJobId };
  }
  async findByName(dispatch: Dispatch) {
    const backendJobId = this.ids.get(dispatch.name);
    return backendJobId ? { backendJobId } : undefined;
  }
  async terminate() {}
}

/** Wall time spent in each phase, by wrapping the ports the dispatcher talks to. */
class PhaseClock {
  loadMs = 0;
  decideMs = 0;
  writeMs = 0;

  async time<T>(phase: 'loadMs' | 'decideMs' | 'writeMs', work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this[phase] += performance.now() - start;
    }
  }

  reset(): void {
    this.loadMs = 0;
    this.decideMs = 0;
    this.writeMs = 0;
  }
}

function timedStore(store: JobStore, clock: PhaseClock): JobStore {
  return {
    create: (job) => store.create(job),
    get: (id) => clock.time('loadMs', () => store.get(id)),
    listByTeam: (query) => store.listByTeam(query),
    listByState: (state, since) => clock.time('loadMs', () => store.listByState(state, since)),
    transition: (job, to, changes, version) =>
      clock.time('writeMs', () => store.transition(job, to, changes, version)),
    update: (job, changes, version) => clock.time('writeMs', () => store.update(job, changes, version)),
  };
}

function timedState(state: DispatcherStateStore, clock: PhaseClock): DispatcherStateStore {
  return {
    load: () => clock.time('loadMs', () => state.load()),
    save: (value) => clock.time('writeMs', () => state.save(value)),
  };
}

function timedPolicy(policy: SchedulingPolicy, clock: PhaseClock): SchedulingPolicy {
  return {
    name: policy.name,
    decide: (state, now) => {
      const start = performance.now();
      try {
        return policy.decide(state, now);
      } finally {
        clock.decideMs += performance.now() - start;
      }
    },
    open: (state) => policy.open(state),
  };
}

const db = await startLocalDynamoDb();
try {
  const table = `bench-${randomUUID().slice(0, 8)}`;
  await ensureJobTable(db.client, table);
  const store = new DynamoDbJobStore(db.client, table);
  const environment = environmentConfig(ENVIRONMENT);
  const service = new JobService({ store, environment });
  const teams = environment.teams;
  const fleets = ['a10g', 'l4', 'a100'];
  const sizes = [1, 1, 1, 2, 4, 8];

  const seedStart = performance.now();
  let next = 0;
  const submitOne = async (i: number) => {
    const team = teams[Math.floor(uniformHash(1, i) * teams.length)]!;
    const classes = team.priorityClasses;
    await service.submit(team.name, {
      name: `bench-${i}`,
      image: 'python:3.11',
      command: ['python', 'train.py'],
      resources: {
        gpus: sizes[Math.floor(uniformHash(2, i) * sizes.length)]!,
        gpuType: fleets[Math.floor(uniformHash(3, i) * fleets.length)]!,
        cpus: 4,
        memoryMiB: 16_384,
      },
      priorityClass: classes[Math.floor(uniformHash(4, i) * classes.length)]!,
      maxRuntimeS: 4 * 3600,
    });
  };
  await Promise.all(
    Array.from({ length: SUBMIT_CONCURRENCY }, async () => {
      while (next < PENDING) await submitOne(next++);
    }),
  );
  const seedS = (performance.now() - seedStart) / 1000;
  console.log(`seeded ${PENDING} pending jobs into dynalite in ${seedS.toFixed(1)} s`);

  const clock = new PhaseClock();
  const pools = awsPools(environment);
  const backends = {
    batch: new RecordingBackend('batch'),
    eks: new RecordingBackend('eks'),
    sagemaker: new RecordingBackend('sagemaker'),
  };
  const dispatcher = new Dispatcher({
    store: timedStore(store, clock),
    policy: timedPolicy(new DrivetrainPolicy(), clock),
    pools,
    teams: teamsOf(environment),
    backends,
    defaultBackend: 'batch',
    environment,
    stateStore: timedState(new DynamoDbDispatcherState(db.client, table), clock),
  });

  const rounds: Record<string, unknown>[] = [];
  for (const label of ['cold (full read, first placements)', 'warm (incremental read, cluster full)']) {
    clock.reset();
    const start = performance.now();
    const summary = await dispatcher.round();
    const totalMs = performance.now() - start;
    const round = {
      round: label,
      pending: summary.pending + summary.started.length,
      started: summary.started.length,
      preempted: summary.preempted.length,
      loadMs: clock.loadMs,
      decideMs: clock.decideMs,
      writeMs: clock.writeMs,
      otherMs: totalMs - clock.loadMs - clock.decideMs - clock.writeMs,
      totalMs,
    };
    rounds.push(round);
    console.log(
      `${label}: ${round.pending} pending, ${round.started} started; load ${round.loadMs.toFixed(0)} ms, ` +
        `decide ${round.decideMs.toFixed(0)} ms, write ${round.writeMs.toFixed(0)} ms, ` +
        `other ${round.otherMs.toFixed(0)} ms, total ${totalMs.toFixed(0)} ms`,
    );
  }
  const report = {
    environment: ENVIRONMENT,
    pools: pools.map((p) => `${p.id} ${p.nodeCount}×${p.node.gpus}`),
    pending: PENDING,
    backend: 'recording control planes (Batch, EKS, SageMaker): submits accepted, nothing runs',
    store: 'DynamoDbJobStore over dynalite (in memory), one process',
    rounds,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
} finally {
  await db.close();
}
