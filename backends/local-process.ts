import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, ComputeBackend } from '../jobs/ports';
import { argv, attemptEnvironment } from './attempt';
import { type AttemptOutcome, LocalAttempt, type NodeLaunch } from './local-attempt';

export interface LocalProcessBackendOptions {
  /** Root of the attempt logs: `<logDir>/<job id>/attempt-<n>.log`. */
  readonly logDir: string;
  /** Receives every state change of every attempt (RUNNING, then how it ended). */
  readonly onStatus: (status: BackendJobStatus) => void;
  /**
   * GPU slots of each node of a pool (the local config's `gpusPerNode`). Node `n` owns CUDA
   * devices `n × gpusPerNode` up to `(n + 1) × gpusPerNode − 1`, so gang members placed on
   * different nodes never share a device.
   */
  readonly gpusPerNode: number;
  /**
   * Time between SIGTERM and SIGKILL when an attempt is stopped: enough to write a checkpoint.
   * @default 10000
   */
  readonly killGraceMs?: number;
  /**
   * Working directory of the processes.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * Environment the job's variables are added to (PATH and friends).
   * @default process.env
   */
  readonly baseEnv?: NodeJS.ProcessEnv;
}

/** The log of one attempt; job ids come from URLs, so anything that could leave `logDir` is refused. */
export function attemptLogPath(logDir: string, jobId: string, attempt: number): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(jobId) || !Number.isInteger(attempt) || attempt < 0) {
    throw new Error(`invalid job id or attempt: ${jobId} ${attempt}`);
  }
  return join(logDir, jobId, `attempt-${attempt}.log`);
}

/** Terminate reasons that mean "the platform took the capacity back": the job is requeued. */
const PREEMPTION = 'preempt';

/**
 * The embedded backend: each attempt runs as real OS processes on this machine, one per
 * gang node, with the GPU slots the scheduler placed it on. It knows only the attempts of
 * this process's lifetime: after a restart, findByName finds nothing and the dispatcher
 * requeues what was running.
 */
export class LocalProcessBackend implements ComputeBackend {
  readonly kind = 'local' as const;
  private readonly attempts = new Map<string, { attempt?: LocalAttempt; started: Promise<void> }>();
  /** Busy CUDA devices per `<pool>/<node>`. */
  private readonly busyGpus = new Map<string, Set<number>>();

  constructor(private readonly options: LocalProcessBackendOptions) {}

  logPath(jobId: string, attempt: number): string {
    return attemptLogPath(this.options.logDir, jobId, attempt);
  }

  /** Returns once the processes are spawned; a second submit of the same name returns the same id. */
  async submit({ job, dispatch }: BackendSubmission): Promise<{ backendJobId: string }> {
    const known = this.attempts.get(dispatch.name);
    if (known) {
      await known.started;
      return { backendJobId: dispatch.name };
    }
    // Registered before the first await, so a concurrent submit sees it.
    const entry: { attempt?: LocalAttempt; started: Promise<void> } = { started: Promise.resolve() };
    this.attempts.set(dispatch.name, entry);
    entry.started = this.start(job, dispatch, entry);
    await entry.started;
    return { backendJobId: dispatch.name };
  }

  async findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined> {
    return this.attempts.has(dispatch.name) ? { backendJobId: dispatch.name } : undefined;
  }

  /** Idempotent; resolves once every process of the attempt is gone. */
  async terminate(dispatch: Dispatch, reason: string): Promise<void> {
    await this.terminateByName(dispatch.name, reason);
  }

  /**
   * Stops every attempt still running, as a preemption so the dispatcher requeues them:
   * their process groups are detached and would otherwise outlive the runtime.
   */
  async shutdown(reason = 'preempted: the local runtime shut down'): Promise<void> {
    const names = [...this.attempts.keys()];
    await Promise.all(names.map((name) => this.terminateByName(name, reason)));
  }

  private async terminateByName(name: string, reason: string): Promise<void> {
    const entry = this.attempts.get(name);
    if (entry === undefined) return;
    await entry.started;
    const state = reason.startsWith(PREEMPTION) ? 'INTERRUPTED' : 'FAILED';
    await entry.attempt?.stop({ state, reason });
  }

  private async start(job: JobRecord, dispatch: Dispatch, entry: { attempt?: LocalAttempt }): Promise<void> {
    const report = (outcome: AttemptOutcome) =>
      this.options.onStatus({ name: dispatch.name, backendJobId: dispatch.name, ...outcome });
    const slots = this.reserveGpus(job, dispatch);
    if (typeof slots === 'string') {
      report({ state: 'FAILED', reason: slots });
      return;
    }
    try {
      const logPath = this.logPath(job.id, job.attempt);
      await mkdir(dirname(logPath), { recursive: true });
      const port = await freePort();
      const attempt = new LocalAttempt({
        nodes: slots.map((slot, index) => this.nodeLaunch(job, index, port, slot.devices)),
        cwd: this.options.cwd ?? process.cwd(),
        log: createWriteStream(logPath, { flags: 'a' }),
        killGraceMs: this.options.killGraceMs ?? 10_000,
        onRunning: () => report({ state: 'RUNNING' }),
      });
      entry.attempt = attempt;
      void attempt.done.then((outcome) => {
        this.releaseGpus(slots);
        report(outcome);
      });
      await attempt.started;
    } catch (error) {
      // A full disk or an exhausted port range fails the attempt, not the runtime.
      this.releaseGpus(slots);
      report({ state: 'FAILED', reason: `cannot start: ${(error as Error).message}` });
    }
  }

  private nodeLaunch(job: JobRecord, index: number, port: number, devices: readonly number[]): NodeLaunch {
    const [command, ...rest] = argv(job.spec);
    return {
      argv: [command ?? '', ...rest],
      env: {
        ...(this.options.baseEnv ?? process.env),
        ...attemptEnvironment(job),
        DRIVETRAIN_NODE_INDEX: String(index),
        DRIVETRAIN_NUM_NODES: String(job.spec.resources.nodes),
        // torch.distributed's env:// rendezvous: node 0 listens, the others connect.
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        // Empty hides every GPU from a CPU-only job instead of exposing all of them.
        CUDA_VISIBLE_DEVICES: devices.join(','),
      },
    };
  }

  /**
   * Free devices for each gang member on the node the scheduler placed it on
   * (`dispatch.nodes[i]`), or why there are not enough.
   */
  private reserveGpus(job: JobRecord, dispatch: Dispatch): GpuSlot[] | string {
    const wanted = job.spec.resources.gpus;
    const slots: GpuSlot[] = [];
    for (let member = 0; member < job.spec.resources.nodes; member++) {
      const node = dispatch.nodes[member] ?? 0;
      const key = `${dispatch.pool}/${node}`;
      const busy = new Set([
        ...(this.busyGpus.get(key) ?? []),
        ...slots.filter((s) => s.key === key).flatMap((s) => s.devices),
      ]);
      const { gpusPerNode } = this.options;
      const owned = Array.from({ length: gpusPerNode }, (_, slot) => node * gpusPerNode + slot);
      const free = owned.filter((device) => !busy.has(device));
      if (free.length < wanted) {
        return `node ${node} of pool ${dispatch.pool} has ${free.length} free GPU slots; the job needs ${wanted}`;
      }
      slots.push({ key, devices: free.slice(0, wanted) });
    }
    for (const { key, devices } of slots) {
      const busy = this.busyGpus.get(key) ?? new Set<number>();
      for (const device of devices) busy.add(device);
      this.busyGpus.set(key, busy);
    }
    return slots;
  }

  private releaseGpus(slots: readonly GpuSlot[]): void {
    for (const { key, devices } of slots) {
      for (const device of devices) this.busyGpus.get(key)?.delete(device);
    }
  }
}

/** The CUDA devices one gang member holds on one node (`<pool>/<node>`). */
interface GpuSlot {
  readonly key: string;
  readonly devices: readonly number[];
}

/** A port nobody listens on right now, for the gang's rendezvous. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP port to listen on');
  return address.port;
}
