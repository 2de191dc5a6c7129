import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Dispatch } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, ComputeBackend } from '../jobs/ports';
import type { LocalStatusQueue, QueuedStatus } from './status-queue';

/**
 * Faults the chaos test (bench/chaos.ts) injects into a running local platform, each decided
 * by a hash of the seed and what it hits, and logged as one JSON line to `logPath` so the
 * test can tell what each job went through. Unset in normal use.
 */
export interface FaultPlan {
  readonly seed: number;
  readonly logPath: string;
  /** Chance that a status report is lost before it is queued (reconciliation must repair it). */
  readonly dropStatus: number;
  /** Chance that a status report is queued twice. */
  readonly duplicateStatus: number;
  /** Each received batch of status reports is shuffled. */
  readonly reorderStatuses: boolean;
  /** Chance that a submit is throttled before it reaches the backend. */
  readonly throttleSubmit: number;
  /** Chance that a submit reaches the backend but its answer is lost (the attempt runs). */
  readonly loseSubmitResponse: number;
  /** Chance that a terminate fails with a 503. */
  readonly failTerminate: number;
  /** Chance, per job, that the backend refuses its every submit (a permanent error). */
  readonly refuseJob: number;
  /**
   * Chance, per attempt, that the platform SIGKILLs itself after spawning the attempt's
   * processes and before recording their pids: the moment a crash leaves processes no record names.
   */
  readonly crashInSpawnWindow?: number;
  /**
   * A burst of status reports queued at once, this long after the first start: repeats of
   * live attempts' RUNNING and reports about their earlier attempts, which must change nothing.
   */
  readonly burst?: { readonly events: number; readonly afterMs: number };
}

export type FaultKind =
  | 'status-dropped'
  | 'status-duplicated'
  | 'statuses-reordered'
  | 'submit-throttled'
  | 'submit-response-lost'
  | 'terminate-failed'
  | 'submit-refused'
  | 'platform-kill-9-in-spawn-window'
  | 'event-burst';

/** A number in [0, 1) fixed by the seed and the key. */
export function chance(seed: number, key: string): number {
  return createHash('sha256').update(`${seed}\0${key}`).digest().readUInt32BE(0) / 2 ** 32;
}

export const REFUSED_MESSAGE = 'injected: the backend refuses this job';

export class FaultLog {
  private readonly counts = new Map<string, number>();

  constructor(private readonly plan: FaultPlan) {}

  /** True, and logged, when the fault `kind` hits `key` (its n-th occurrence in this process). */
  hits(kind: FaultKind, key: string, probability: number, detail: Record<string, unknown> = {}): boolean {
    const n = (this.counts.get(`${kind}:${key}`) ?? 0) + 1;
    this.counts.set(`${kind}:${key}`, n);
    if (probability <= 0 || chance(this.plan.seed, `${kind}:${key}:${n}:${process.pid}`) >= probability)
      return false;
    this.record(kind, detail);
    return true;
  }

  record(kind: FaultKind, detail: Record<string, unknown>): void {
    appendFileSync(
      this.plan.logPath,
      `${JSON.stringify({ kind, at: new Date().toISOString(), ...detail })}\n`,
    );
  }
}

const jobIdOf = (name: string) => /^dt-([a-z0-9]+)-\d+$/.exec(name)?.[1];

/** A backend whose calls fail as the plan says; everything else is the real backend's. */
export function faultyBackend(inner: ComputeBackend, plan: FaultPlan): ComputeBackend {
  const log = new FaultLog(plan);
  const throttled = () =>
    Object.assign(new Error('injected: Rate exceeded'), {
      name: 'ThrottlingException',
      $retryable: { throttling: true },
      $metadata: { httpStatusCode: 400 },
    });
  return {
    kind: inner.kind,
    findByName: (dispatch) => inner.findByName(dispatch),
    reconcile: inner.reconcile && ((dispatches) => inner.reconcile!(dispatches)),
    async submit(submission: BackendSubmission) {
      const { job, dispatch } = submission;
      const detail = { jobId: job.id, name: dispatch.name };
      if (chance(plan.seed, `refuse:${job.id}`) < plan.refuseJob) {
        log.record('submit-refused', detail);
        throw Object.assign(new Error(REFUSED_MESSAGE), { name: 'ClientException', $fault: 'client' });
      }
      if (log.hits('submit-throttled', dispatch.name, plan.throttleSubmit, detail)) throw throttled();
      const accepted = await inner.submit(submission);
      if (log.hits('submit-response-lost', dispatch.name, plan.loseSubmitResponse, detail)) {
        throw Object.assign(new Error('injected: socket hang up'), { code: 'ECONNRESET' });
      }
      return accepted;
    },
    async terminate(dispatch: Dispatch, reason: string) {
      const detail = { jobId: jobIdOf(dispatch.name), name: dispatch.name };
      if (log.hits('terminate-failed', dispatch.name, plan.failTerminate, detail)) {
        throw Object.assign(new Error('injected: Service Unavailable'), {
          $metadata: { httpStatusCode: 503 },
        });
      }
      return inner.terminate(dispatch, reason);
    },
  };
}

/** The process backend's `afterSpawn` hook, if the plan injects crashes there: a SIGKILL of this process. */
export function spawnWindowCrash(plan: FaultPlan): ((name: string) => void) | undefined {
  const probability = plan.crashInSpawnWindow ?? 0;
  if (probability <= 0) return undefined;
  const log = new FaultLog(plan);
  return (name) => {
    if (log.hits('platform-kill-9-in-spawn-window', name, probability, { jobId: jobIdOf(name), name }))
      process.kill(process.pid, 'SIGKILL');
  };
}

/** Puts a report on the queue as the plan says: lost, once, or twice. */
export function faultySend(queue: LocalStatusQueue, plan: FaultPlan): (status: BackendJobStatus) => void {
  const log = new FaultLog(plan);
  return (status) => {
    const detail = { jobId: jobIdOf(status.name), name: status.name, state: status.state };
    if (log.hits('status-dropped', `${status.name}:${status.state}`, plan.dropStatus, detail)) return;
    queue.send(status);
    if (log.hits('status-duplicated', `${status.name}:${status.state}`, plan.duplicateStatus, detail))
      queue.send(status);
  };
}

/** Shuffles a received batch (seeded), as a queue with no ordering may deliver it. */
export function reordered(batch: QueuedStatus[], plan: FaultPlan, round: number): QueuedStatus[] {
  if (!plan.reorderStatuses || batch.length < 2) return batch;
  new FaultLog(plan).record('statuses-reordered', { size: batch.length });
  return batch
    .map((message, i) => ({ message, key: chance(plan.seed, `order:${round}:${i}`) }))
    .sort((a, b) => a.key - b.key)
    .map(({ message }) => message);
}

/** The backend job id of the burst's reports (`burst-<tag>-<n>`), so they are counted wherever they are applied. */
export const BURST = 'burst-';

/** The burst's reports: harmless by construction, so the jobs' outcomes must not move. */
export function burstStatuses(
  live: readonly { id: string; attempt: number }[],
  events: number,
  tag: string,
): BackendJobStatus[] {
  if (live.length === 0) return [];
  return Array.from({ length: events }, (_, i) => {
    const job = live[i % live.length]!;
    return i % 2 === 0
      ? { name: `dt-${job.id}-${job.attempt}`, backendJobId: `${BURST}${tag}-${i}`, state: 'RUNNING' }
      : {
          name: `dt-${job.id}-${Math.max(0, job.attempt - 1)}`,
          backendJobId: `${BURST}${tag}-${i}`,
          state: 'FAILED',
          exitCode: 1,
        };
  });
}

/** The tag of a burst report, or undefined for any other report. */
export function burstTagOf(status: BackendJobStatus): string | undefined {
  return status.backendJobId.startsWith(BURST) ? status.backendJobId.split('-')[1] : undefined;
}
