import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { BackendJobStatus } from '../jobs/ports';

/** The end of an attempt, before the backend adds its name and id. */
export type AttemptOutcome = Pick<BackendJobStatus, 'state' | 'reason' | 'exitCode'>;

/** One gang member: an argv and the environment of that node. */
export interface NodeLaunch {
  readonly argv: readonly [string, ...string[]];
  readonly env: NodeJS.ProcessEnv;
  /**
   * Where backends/exit-recorder.mjs, which then runs the argv, writes how the node ended the
   * moment it does: on disk even if this runtime is killed as the job exits.
   */
  readonly exitPath?: string;
}

/**
 * What backends/exit-recorder.mjs writes: the job's exit, or why it could not be spawned.
 * `orphaned`: the runtime died first, so the recorder stopped the job (or never started it).
 */
export type RecordedExit =
  | { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly orphaned?: true }
  | { readonly error: string };

const EXIT_RECORDER = new URL('./exit-recorder.mjs', import.meta.url).pathname;

/** The exit a node's recorder wrote, if it did. */
export function readRecordedExit(path: string): RecordedExit | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RecordedExit;
  } catch {
    return undefined;
  }
}

export interface LocalAttemptOptions {
  readonly nodes: readonly NodeLaunch[];
  readonly cwd: string;
  /** Receives every node's output; ended by the attempt. */
  readonly log: Writable;
  /** Between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
  /** Called once every node is running, unless the attempt already ended. */
  readonly onRunning: () => void;
  /** The attempt is stopped (FAILED, "timed out") when it has run this long. */
  readonly maxRuntimeMs?: number;
}

/** The reason every backend gives for an attempt stopped at its `maxRuntimeS`. */
export const TIMED_OUT = 'timed out';

/**
 * The OS processes of one attempt, one per gang node, each the leader of its own process
 * group so that a signal reaches everything the job started. The first decision wins: a
 * terminate, a failing node (which stops the others) or, when every node exits 0, success.
 */
export class LocalAttempt {
  /** Resolves once every node has spawned, or one could not be. */
  readonly started: Promise<void>;
  /** Resolves with the outcome once every process is gone and the log is flushed. */
  readonly done: Promise<AttemptOutcome>;
  private outcome: AttemptOutcome | undefined;
  private readonly children: ChildProcess[] = [];
  private readonly exited = new Set<number>();
  private killTimer: NodeJS.Timeout | undefined;
  private readonly deadline: NodeJS.Timeout | undefined;

  constructor(private readonly options: LocalAttemptOptions) {
    // An unwritable log (full disk, bad permissions) must neither crash the runtime nor hide the outcome.
    options.log.on('error', () => undefined);
    const gang = options.nodes.length > 1;
    const closed = options.nodes.map((node, index) =>
      this.launch(node, index, gang ? `[node ${index}] ` : ''),
    );
    this.started = Promise.all(
      this.children.map(
        (child) => new Promise((resolve) => child.once('spawn', resolve).once('error', resolve)),
      ),
    ).then(() => {
      if (this.outcome === undefined) options.onRunning();
    });
    this.done = this.finish(closed);
    if (options.maxRuntimeMs !== undefined) {
      this.deadline = setTimeout(
        () => this.decide({ state: 'FAILED', reason: TIMED_OUT }),
        options.maxRuntimeMs,
      );
    }
  }

  /** Process ids of the nodes (each the leader of its process group), as spawned. */
  get pids(): number[] {
    return this.children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /** Stops every node: SIGTERM to each process group, SIGKILL after the grace period. */
  stop(outcome: AttemptOutcome): Promise<AttemptOutcome> {
    this.decide(outcome);
    return this.done;
  }

  private launch(node: NodeLaunch, index: number, prefix: string): Promise<unknown> {
    const [command, ...args] = node.argv;
    // No shell: the argv is the job's, word for word, and cannot be reinterpreted.
    const [file, ...fileArgs] =
      node.exitPath === undefined
        ? node.argv
        : [
            process.execPath,
            EXIT_RECORDER,
            node.exitPath,
            String(process.pid),
            String(this.options.killGraceMs),
            command,
            ...args,
          ];
    const child = spawn(file, fileArgs, {
      cwd: this.options.cwd,
      env: node.env,
      detached: true,
      // The recorder's stdin is a pipe this process holds open and never writes: when it closes,
      // however this process died, the recorder stops the job.
      stdio: [node.exitPath === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.stdin?.on('error', () => undefined);
    this.children.push(child);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      if (prefix === '') {
        stream.pipe(this.options.log, { end: false });
      } else {
        createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
          this.options.log.write(`${prefix}${line}\n`),
        );
      }
    }
    child.once('error', (error) => {
      // Only a failed spawn matters here; later errors are failed signals to a dead process.
      if (child.pid !== undefined) return;
      this.exited.add(index);
      this.decide({ state: 'FAILED', reason: `cannot run ${command}: ${error.message}` });
    });
    child.once('exit', (code, signal) => {
      this.exited.add(index);
      const recorded = node.exitPath === undefined ? undefined : readRecordedExit(node.exitPath);
      if (recorded && 'error' in recorded) {
        this.decide({ state: 'FAILED', reason: `cannot run ${command}: ${recorded.error}` });
      } else if (code !== 0) {
        const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
        const who = prefix === '' ? 'the process' : `node ${index}`;
        this.decide({ state: 'FAILED', reason: `${who} ${how}`, exitCode: code ?? undefined });
      } else if (this.exited.size === this.children.length) {
        this.decide({ state: 'SUCCEEDED', exitCode: 0 });
      }
    });
    // Not events.once: it would reject on the 'error' of a failed spawn, which precedes 'close'.
    return new Promise((resolve) => child.once('close', resolve));
  }

  private decide(outcome: AttemptOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    // Also after success: whatever a node left running in its group ends with the job.
    this.signalAll(outcome.state === 'SUCCEEDED' ? 'SIGKILL' : 'SIGTERM');
    if (this.exited.size < this.children.length) {
      this.killTimer = setTimeout(() => this.signalAll('SIGKILL'), this.options.killGraceMs);
    }
  }

  private signalAll(signal: NodeJS.Signals): void {
    for (const child of this.children) {
      if (child.pid === undefined) continue;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    }
  }

  private async finish(closed: Promise<unknown>[]): Promise<AttemptOutcome> {
    await Promise.all(closed);
    clearTimeout(this.killTimer);
    clearTimeout(this.deadline);
    await finished(this.options.log.end()).catch(() => undefined);
    // Every process has exited, so some rule above has decided.
    return this.outcome ?? { state: 'FAILED', reason: 'ended without an exit status' };
  }
}
