import {
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, CheckpointStore, ComputeBackend } from '../jobs/ports';
import { isRunning, processesWithArgument, type RecordedProcess, recordProcess } from '../local/pid-files';
import { argv, attemptEnvironment } from './attempt';
import { type AttemptOutcome, LocalAttempt, type NodeLaunch, readRecordedExit } from './local-attempt';

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
   * Environment the job's variables are added to.
   * @default the runtime's PATH, HOME, USER, LANG, TZ and TMPDIR, nothing else (no credentials)
   */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /**
   * Where each attempt's record goes (`<runDir>/<name>.json`: its processes, then how it
   * ended), so a runtime that restarts after a crash reaps what the last one left running
   * and can still tell the dispatcher about attempts of an earlier lifetime. Without it the
   * backend knows only the attempts of this process's lifetime.
   */
  readonly runDir?: string;
  /** Gives every attempt DRIVETRAIN_CHECKPOINT_DIR: a directory per job. */
  readonly checkpoints?: Pick<CheckpointStore, 'locationOf'>;
  /**
   * Told the process groups of attempts run without records while they run, to kill them
   * should this process die. With `runDir`, each node's exit recorder does that itself.
   */
  readonly groupGuard?: ProcessGroupGuard;
  /**
   * Fault injection, for tests: runs after an attempt's processes are spawned and before their
   * pids are recorded, the one moment a crash leaves processes that no record names.
   */
  readonly afterSpawn?: (name: string) => void;
}

/** Something that kills process groups once the runtime is gone (local/process-reaper.mjs). */
export interface ProcessGroupGuard {
  watch(pgid: number): void;
  release(pgid: number): void;
}

/** The variables of the runtime's own environment a job inherits: enough to find programs and a home. */
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
];

export function minimalEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(
    INHERITED_ENV.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])),
  );
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

/** Outcomes of ended attempts stay in memory this long (after that, the record file answers). */
const ENDED_KEPT_MS = 10 * 60_000;
/** Records of attempts that ended longer ago than this are removed at start, as Batch purges old jobs. */
const RECORDS_KEPT_MS = 7 * 24 * 3600_000;

/** What `<runDir>/<name>.json` holds. */
interface AttemptRecord {
  readonly name: string;
  readonly jobId: string;
  readonly attempt: number;
  /** Gang nodes, each run by an exit recorder; absent in records of older versions. */
  readonly nodes?: number;
  /** The nodes' recorders, once spawned (each the leader of its process group). */
  readonly processes: RecordedProcess[];
  readonly outcome?: AttemptOutcome;
  readonly endedAt?: string;
}

interface AttemptEntry {
  attempt?: LocalAttempt;
  started: Promise<void>;
  outcome?: AttemptOutcome;
  endedAtMs?: number;
}

/**
 * The embedded backend: each attempt runs as real OS processes on this machine, one per
 * gang node, with the GPU slots the scheduler placed it on. Attempts die with the runtime:
 * their process groups are killed by the guard when it goes, and reaped from their records
 * when it starts again; those attempts then report INTERRUPTED, so the dispatcher requeues
 * their jobs (counted against their retries) and they resume from their checkpoints.
 */
export class LocalProcessBackend implements ComputeBackend {
  readonly kind = 'local' as const;
  private readonly attempts = new Map<string, AttemptEntry>();
  /** Busy CUDA devices per `<pool>/<node>`. */
  private readonly busyGpus = new Map<string, Set<number>>();

  constructor(private readonly options: LocalProcessBackendOptions) {
    if (options.runDir) mkdirSync(options.runDir, { recursive: true });
  }

  logPath(jobId: string, attempt: number): string {
    return attemptLogPath(this.options.logDir, jobId, attempt);
  }

  /**
   * After a restart: kills every process an earlier lifetime of the runtime left running (a
   * SIGKILLed runtime runs no cleanup), records those attempts as interrupted, and removes
   * records older than a week. Returns the names of the attempts it reaped.
   */
  async recover(): Promise<string[]> {
    const { runDir } = this.options;
    if (!runDir) return [];
    const reaped: string[] = [];
    for (const file of readdirSync(runDir).filter((f) => f.endsWith('.json'))) {
      const record = this.readRecord(file.slice(0, -'.json'.length));
      if (!record || this.attempts.has(record.name)) continue;
      if (record.outcome) {
        if (Date.now() - Date.parse(record.endedAt ?? '') > RECORDS_KEPT_MS)
          rmSync(join(runDir, file), { force: true });
        continue;
      }
      await this.stopAttemptProcesses(record);
      // No process of the attempt runs any more, so its exit files are final. Every node wrote
      // its exit before the runtime died: the attempt ended, only its report was lost.
      const outcome = this.recordedOutcome(record) ?? {
        state: 'INTERRUPTED',
        reason: 'interrupted: the local runtime stopped while the attempt ran',
      };
      this.writeRecord({ ...record, outcome, endedAt: new Date().toISOString() });
      this.removeExitFiles(record.name, nodeCount(record));
      if (outcome.state === 'INTERRUPTED') reaped.push(record.name);
    }
    return reaped;
  }

  /** Returns once the processes are spawned; a second submit of the same name returns the same id. */
  async submit({ job, dispatch }: BackendSubmission): Promise<{ backendJobId: string }> {
    const known = this.attempts.get(dispatch.name);
    if (known) {
      await known.started;
      return { backendJobId: dispatch.name };
    }
    // An attempt of an earlier lifetime is never run a second time: its record says how it ended.
    if (this.readRecord(dispatch.name)) return { backendJobId: dispatch.name };
    // Registered before the first await, so a concurrent submit sees it.
    const entry: AttemptEntry = { started: Promise.resolve() };
    this.attempts.set(dispatch.name, entry);
    entry.started = this.start(job, dispatch, entry);
    await entry.started;
    return { backendJobId: dispatch.name };
  }

  async findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined> {
    return this.attempts.has(dispatch.name) || this.readRecord(dispatch.name)
      ? { backendJobId: dispatch.name }
      : undefined;
  }

  /** The process table's view of these attempts, and the records of earlier lifetimes. */
  async reconcile(dispatches: readonly Dispatch[]): Promise<Map<string, BackendJobStatus>> {
    const known = new Map<string, BackendJobStatus>();
    for (const { name } of dispatches) {
      const entry = this.attempts.get(name);
      const outcome = entry ? entry.outcome : this.readRecord(name)?.outcome;
      if (entry && !outcome) {
        known.set(name, { name, backendJobId: name, state: entry.attempt ? 'RUNNING' : 'STARTING' });
      } else if (outcome) {
        known.set(name, { name, backendJobId: name, ...outcome });
      } else if (this.readRecord(name)) {
        // A record without an outcome and no process of this lifetime: reaped by recover().
        known.set(name, {
          name,
          backendJobId: name,
          state: 'INTERRUPTED',
          reason: "interrupted: the attempt's processes are gone",
        });
      }
    }
    this.forgetEnded();
    return known;
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

  /** GPU slots held by running attempts, per `<pool>/<node>`: all zero once the cluster drains. */
  busySlots(): Record<string, number> {
    return Object.fromEntries([...this.busyGpus].map(([key, devices]) => [key, devices.size]));
  }

  private async terminateByName(name: string, reason: string): Promise<void> {
    const entry = this.attempts.get(name);
    if (entry === undefined) return;
    await entry.started;
    const state = reason.startsWith(PREEMPTION) ? 'INTERRUPTED' : 'FAILED';
    await entry.attempt?.stop({ state, reason });
  }

  private async start(job: JobRecord, dispatch: Dispatch, entry: AttemptEntry): Promise<void> {
    const report = (outcome: AttemptOutcome) => {
      entry.outcome = outcome;
      entry.endedAtMs = Date.now();
      this.options.onStatus({ name: dispatch.name, backendJobId: dispatch.name, ...outcome });
    };
    const slots = this.reserveGpus(job, dispatch);
    if (typeof slots === 'string') {
      // The dispatcher's books and this machine's disagree for a moment (a victim still
      // stopping): an error that can pass, as a capacity error is on AWS, so it tries again.
      this.attempts.delete(dispatch.name);
      throw Object.assign(new Error(slots), { name: 'InsufficientCapacity', $retryable: {} });
    }
    const record = { name: dispatch.name, jobId: job.id, attempt: job.attempt, nodes: slots.length };
    try {
      // On disk before anything is spawned: a runtime killed from here on leaves a record, so no
      // later lifetime starts this name again. A kill between the spawn and the second write
      // below leaves a record without pids: its recorders stop their jobs when this process
      // dies, and recover() finds them by their exit files' paths before it decides anything.
      this.writeRecord({ ...record, processes: [] });
      const logPath = this.logPath(job.id, job.attempt);
      await mkdir(dirname(logPath), { recursive: true });
      const checkpointDir = this.options.checkpoints?.locationOf(job);
      if (checkpointDir) await mkdir(checkpointDir, { recursive: true });
      const port = await freePort();
      const attempt = new LocalAttempt({
        nodes: slots.map((slot, index) =>
          this.nodeLaunch(job, dispatch.name, index, port, slot.devices, checkpointDir),
        ),
        cwd: this.options.cwd ?? process.cwd(),
        log: createWriteStream(logPath, { flags: 'a' }),
        killGraceMs: this.options.killGraceMs ?? 10_000,
        maxRuntimeMs: job.spec.maxRuntimeS * 1000,
        onRunning: () => {
          if (!entry.outcome)
            this.options.onStatus({ name: dispatch.name, backendJobId: dispatch.name, state: 'RUNNING' });
        },
      });
      entry.attempt = attempt;
      this.options.afterSpawn?.(dispatch.name);
      // Recorded before anything else can happen, so a crash from here on leaves a record to reap from.
      const { pids } = attempt;
      this.writeRecord({ ...record, processes: pids.map(recordProcess) });
      // With records, each node's recorder stops its job when this process dies, and records
      // how it ended: a guard's SIGKILL could kill a recorder whose job had just exited 0 before
      // it wrote that, and the job would run again.
      const guard = this.options.runDir ? undefined : this.options.groupGuard;
      for (const pid of pids) guard?.watch(pid);
      void attempt.done.then((outcome) => {
        for (const pid of pids) guard?.release(pid);
        this.releaseGpus(slots);
        try {
          this.writeRecord({ ...record, processes: [], outcome, endedAt: new Date().toISOString() });
          this.removeExitFiles(record.name, pids.length);
        } catch (error) {
          // The outcome is still reported; a record left without it is read from the exit files
          // by the next lifetime's recover(). Throwing here would only be an unhandled rejection.
          process.emitWarning(`attempt ${record.name}: its outcome was not recorded: ${String(error)}`);
        }
        report(outcome);
      });
      await attempt.started;
    } catch (error) {
      // A full disk or an exhausted port range fails the attempt, not the runtime.
      this.releaseGpus(slots);
      const outcome: AttemptOutcome = {
        state: 'FAILED',
        reason: `cannot start: ${(error as Error).message}`,
      };
      try {
        this.writeRecord({ ...record, processes: [], outcome, endedAt: new Date().toISOString() });
      } catch {
        // the disk that failed the start: the record written first already keeps the name from running again
      }
      report(outcome);
    }
  }

  private recordPath(name: string): string | undefined {
    return this.options.runDir && /^[A-Za-z0-9_-]+$/.test(name)
      ? join(this.options.runDir, `${name}.json`)
      : undefined;
  }

  private readRecord(name: string): AttemptRecord | undefined {
    const path = this.recordPath(name);
    if (!path) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as AttemptRecord;
    } catch {
      return undefined;
    }
  }

  /** Written whole to a temporary file, then renamed: a crash never leaves half a record. */
  private writeRecord(record: AttemptRecord): void {
    const path = this.recordPath(record.name);
    if (!path) return;
    writeFileSync(`${path}.tmp`, JSON.stringify(record));
    renameSync(`${path}.tmp`, path);
  }

  private exitPath(name: string, node: number): string | undefined {
    const path = this.recordPath(name);
    return path && `${path.slice(0, -'.json'.length)}.node-${node}.exit`;
  }

  /**
   * Makes sure no process of an attempt of an earlier lifetime still runs, so that its exit
   * files are final. Its recorders, found by their recorded pids or, for nodes the runtime died
   * before recording, by the exit path on their command lines, stop their jobs once the runtime
   * is gone and write how each ended: they get the kill grace for that, then are killed. Without
   * /proc to search, unrecorded nodes are waited for by their exit files.
   */
  private async stopAttemptProcesses(record: AttemptRecord): Promise<void> {
    const nodes = nodeCount(record);
    const exitPaths = Array.from({ length: nodes }, (_, node) => this.exitPath(record.name, node) ?? '');
    const unrecorded = record.processes.length < nodes;
    const found = unrecorded ? exitPaths.map(processesWithArgument) : [];
    const searched = found.every((processes) => processes !== undefined);
    const recorders = [...record.processes, ...found.flatMap((processes) => processes ?? [])];
    let deadline = Date.now() + (this.options.killGraceMs ?? 10_000) + ORPHAN_STOP_MARGIN_MS;
    const pending = () =>
      recorders.some(isRunning) || (!searched && exitPaths.some((path) => !readRecordedExit(path)));
    if (!searched) deadline += RECORDER_START_MS;
    while (pending() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await killAttemptProcesses(recorders);
  }

  /**
   * How an attempt of an earlier lifetime ended, if each of its nodes recorded an exit of its
   * own (not one its recorder forced because the runtime was gone).
   */
  private recordedOutcome(record: AttemptRecord): AttemptOutcome | undefined {
    const nodes = nodeCount(record);
    if (nodes === 0) return undefined;
    const exits = Array.from({ length: nodes }, (_, node) => {
      const path = this.exitPath(record.name, node);
      return path === undefined ? undefined : readRecordedExit(path);
    });
    if (exits.some((exit) => exit === undefined || ('orphaned' in exit && exit.orphaned))) return undefined;
    const gang = exits.length > 1;
    for (const [node, exit] of exits.entries()) {
      if (exit === undefined) continue;
      const who = gang ? `node ${node}` : 'the process';
      if ('error' in exit) return { state: 'FAILED', reason: `${who} could not run: ${exit.error}` };
      if (exit.code !== 0) {
        const how = exit.code === null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        return { state: 'FAILED', reason: `${who} ${how}`, exitCode: exit.code ?? undefined };
      }
    }
    return { state: 'SUCCEEDED', exitCode: 0 };
  }

  private removeExitFiles(name: string, nodes: number): void {
    for (let node = 0; node < nodes; node++) {
      const path = this.exitPath(name, node);
      if (path) rmSync(path, { force: true });
    }
  }

  private forgetEnded(): void {
    const before = Date.now() - ENDED_KEPT_MS;
    for (const [name, entry] of this.attempts) {
      if (entry.endedAtMs !== undefined && entry.endedAtMs < before && this.options.runDir)
        this.attempts.delete(name);
    }
  }

  private nodeLaunch(
    job: JobRecord,
    name: string,
    index: number,
    port: number,
    devices: readonly number[],
    checkpointDir: string | undefined,
  ): NodeLaunch {
    const [command, ...rest] = argv(job.spec);
    return {
      argv: [command ?? '', ...rest],
      exitPath: this.exitPath(name, index),
      env: {
        ...(this.options.baseEnv ?? minimalEnvironment()),
        ...attemptEnvironment(job, { checkpointDir }),
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

/** Gang nodes of an attempt record (records of older versions say only how many pids they hold). */
function nodeCount(record: AttemptRecord): number {
  return record.nodes ?? record.processes.length;
}

/** Beyond the kill grace: time an orphaned recorder may need on a loaded machine to stop its job and write its exit. */
const ORPHAN_STOP_MARGIN_MS = 2_000;
/** Time a loaded machine may take to start a recorder, where /proc cannot tell whether one is starting. */
const RECORDER_START_MS = 5_000;

/**
 * Kills what is left of an attempt of an earlier lifetime: each node's process group, if its
 * leader is still the process that was recorded, and waits until the leaders are gone.
 */
async function killAttemptProcesses(processes: readonly RecordedProcess[]): Promise<void> {
  const alive = processes.filter(isRunning);
  for (const { pid } of alive) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is already gone.
    }
  }
  const deadline = Date.now() + 5_000;
  while (alive.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
