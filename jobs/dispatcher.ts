import { acceptingBackends } from '../backends/spec-limits';
import type { EnvironmentConfig } from '../config/schema';
import type { ClusterState, Job, Pool, RunningJob, Team, UsageLedger } from '../scheduler/model';
import { emptyUsage } from '../scheduler/model';
import type { Decision, Reservation, SchedulingPolicy } from '../scheduler/policy';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { BackendNotConfigured, backendMessage, isTransientBackendError } from './backend-errors';
import { CPU_POOL_TYPE } from './cluster';
import { attemptName } from './ids';
import type { BackendKind, BackendRetry, Dispatch, JobRecord } from './job';
import {
  type BackendJobStatus,
  type CheckpointStore,
  type ComputeBackend,
  type DispatcherStateStore,
  type JobChanges,
  type JobStore,
  TransitionConflict,
} from './ports';
import { buildQueueReport } from './queues';
import type { JobSpec } from './spec';
import { ACTIVE_STATES, type JobState } from './states';

/** Heads of the queues come first in `decision.waiting`, so a cap keeps the reasons people look at current. */
const REASON_WRITES_PER_ROUND = 200;
/** A warm dispatcher rereads the whole backlog this often, dropping any stale entries. */
const FULL_SYNC_MS = 60_000;
/** How far a write's updatedAt may trail its commit: incremental reads overlap by this much. */
const WRITE_SKEW_MS = 5_000;
/** A conditional write that keeps losing to other writers gives up after this many reads. */
const WRITE_TRIES = 8;
/** Order of a status within one attempt's life: a batch is applied in it, however it arrived. */
const STATUS_RANK: Record<BackendJobStatus['state'], number> = {
  STARTING: 0,
  RUNNING: 1,
  SUCCEEDED: 2,
  FAILED: 2,
  INTERRUPTED: 2,
};

/** Backoff of backend calls that failed with an error that can pass. */
export interface BackendBackoff {
  /** Wait after the first failure, doubled after each further one. */
  readonly baseS: number;
  readonly maxS: number;
  /** A submit that failed this many times in a row fails the job. */
  readonly maxSubmitFailures: number;
}

export const DEFAULT_BACKOFF: BackendBackoff = { baseS: 5, maxS: 300, maxSubmitFailures: 8 };

export interface DispatcherOptions {
  readonly store: JobStore;
  readonly policy: SchedulingPolicy;
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  readonly backends: Partial<Record<BackendKind, ComputeBackend>>;
  /** Backend for jobs that leave the choice to the platform (`backend: auto`). */
  readonly defaultBackend: BackendKind;
  /**
   * The AWS environment: a `backend: auto` job is placed only on backends whose service
   * limits accept its spec. The local runtime, whose pools run anything, leaves it out.
   */
  readonly environment?: EnvironmentConfig;
  /**
   * Keeps fair-share usage across cold starts and publishes each round's queue report;
   * without it usage starts empty in each process.
   */
  readonly stateStore?: DispatcherStateStore;
  /**
   * Where attempts checkpoint: the newest checkpoint tells the scheduler how much work a
   * preemption would lose. Without it, the attempt's start is taken as its last checkpoint.
   */
  readonly checkpoints?: CheckpointStore;
  /** A job's newest checkpoint is looked up again after this long. @default 60 */
  readonly checkpointRefreshS?: number;
  /**
   * Each live attempt no event confirmed for this long is confirmed with its backend
   * (`ComputeBackend.reconcile`). @default 300
   */
  readonly reconcileEveryS?: number;
  /**
   * An attempt its backend does not know is lost only once it was submitted this long ago
   * (a backend's view may lag a submit). @default 60
   */
  readonly lostAfterS?: number;
  readonly backoff?: BackendBackoff;
  readonly clock?: () => Date;
  /** Where a backend error that the round contained is reported. @default console.warn */
  readonly warn?: (message: string, detail: Record<string, unknown>) => void;
  /** Test hook: runs between a backend submit and the write that records it. */
  readonly afterSubmit?: (job: JobRecord, dispatch: Dispatch) => void | Promise<void>;
}

export interface RoundSummary {
  readonly started: string[];
  readonly preempted: string[];
  readonly cancelled: string[];
  readonly recovered: string[];
  /** Jobs a backend refused for good, or whose backend is not configured. */
  readonly failed: string[];
  /** Live attempts confirmed with their backends this round. */
  readonly reconciled: number;
  /** Attempts their backend did not know: requeued as interruptions, or failed out of retries. */
  readonly lost: string[];
  /** Backend status reports applied this round. */
  readonly statuses: number;
  readonly pending: number;
}

/** A write the dispatcher wants for a job as it read it: a state change, or fields only. */
interface Write {
  readonly to?: JobState;
  readonly changes: JobChanges;
}

type BackendCall<T> = { ok: true; value: T } | { ok: false; job: JobRecord };

/**
 * One dispatch round: apply the backends' status reports, load the live jobs, heal what an
 * earlier crash left half done, confirm live attempts with their backends, ask the scheduling
 * policy what to run, then act on the backends and record every decision. Rounds must not
 * overlap (the Lambda runs with reserved concurrency 1; the local runtime serialises them).
 * Every write is conditional on the version the round read, so a racing API call (a cancel)
 * never loses its effect. A backend error stops only the job it concerns.
 */
export class Dispatcher {
  private usage: UsageLedger | undefined;
  /** Last round's starvation holds, so a warm dispatcher keeps each starving job's promise. */
  private carriedHolds: readonly Reservation[] = [];
  private readonly clock: () => Date;
  private readonly backoff: BackendBackoff;
  private readonly warn: (message: string, detail: Record<string, unknown>) => void;
  /**
   * Pending jobs as of the last round, kept by a warm dispatcher (a reused Lambda container,
   * the local worker) so a round reads only what changed instead of the whole backlog.
   * Entries can be stale (a job cancelled meanwhile); every write is conditional, so a stale
   * entry costs at most a refused transition, and a full read every FULL_SYNC_MS clears them.
   */
  private pendingMirror = new Map<string, JobRecord>();
  private syncedUpTo: string | undefined;
  private lastFullSyncMs = Number.NEGATIVE_INFINITY;
  /** When each live attempt's state was last confirmed by an event or its backend (epoch ms). */
  private readonly confirmedAt = new Map<string, number>();
  /** Each running job's newest checkpoint (epoch s, undefined: none yet) and when it was looked up. */
  private readonly checkpointSeen = new Map<string, { at: number | undefined; lookedUpMs: number }>();

  constructor(private readonly options: DispatcherOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.warn = options.warn ?? ((message, detail) => console.warn(message, detail));
  }

  /**
   * @param statuses backend status reports delivered since the last round (SQS on AWS, the
   *   local status queue), in any order and possibly more than once: applying one twice
   *   changes nothing.
   */
  async round(statuses: readonly BackendJobStatus[] = []): Promise<RoundSummary> {
    const { store } = this.options;
    const summary = {
      started: [] as string[],
      preempted: [] as string[],
      cancelled: [] as string[],
      recovered: [] as string[],
      failed: [] as string[],
      lost: [] as string[],
      reconciled: 0,
      statuses: statuses.length,
    };

    for (const job of await store.listByState('PREEMPTED')) await this.requeue(job);
    let active = [...(await store.listByState('DISPATCHED')), ...(await store.listByState('RUNNING'))];
    active = await this.applyStatuses(active, statuses);
    const live: JobRecord[] = [];
    for (const job of active) {
      if (job.cancelRequested) {
        if (await this.stop(job, 'cancelled by user', 'CANCELLED')) summary.cancelled.push(job.id);
        else live.push(job);
        continue;
      }
      const healed = await this.heal(job, summary);
      const polled = healed && (await this.poll(healed));
      if (polled && ACTIVE_STATES.includes(polled.state)) live.push(polled);
    }
    const confirmed = await this.reconcile(live, summary);
    const pending = await this.pendingOnConfiguredBackends(summary);
    const nowS = this.clock().getTime() / 1000;
    this.usage ??= (await this.options.stateStore?.load())?.usage;
    const running = await this.runningJobs(confirmed);
    const decision = this.options.policy.decide(this.clusterState(pending, running, nowS), nowS);
    this.usage = decision.usage;
    this.carriedHolds = decision.carriedHolds ?? [];
    await this.publish(decision, pending, confirmed);

    const byId = new Map([...pending, ...confirmed].map((j) => [j.id, j]));
    // A victim that could not be stopped still holds its place: what was to start there waits.
    const stillHeld = new Set<string>();
    for (const preemption of decision.preemptions) {
      const victim = byId.get(preemption.jobId);
      if (!victim) continue;
      const reason = `preempted for ${preemption.forJobId} (${preemption.reason})`;
      if (await this.stop(victim, reason, 'PREEMPTED')) summary.preempted.push(victim.id);
      else if (victim.dispatch) stillHeld.add(victim.dispatch.pool);
    }
    for (const start of decision.starts) {
      if (stillHeld.has(start.placement.poolId)) continue;
      const job = byId.get(start.jobId);
      if (job && (await this.start(job, start.placement.poolId, start.placement.nodes, summary)))
        summary.started.push(job.id);
    }
    await this.recordWaiting(decision, byId);
    return { ...summary, pending: pending.length - summary.started.length };
  }

  /** Saves usage and the queue report as this round left things, with the round's own reasons. */
  private async publish(decision: Decision, pending: JobRecord[], live: JobRecord[]): Promise<void> {
    if (!this.options.stateStore) return;
    const reasons = new Map(decision.waiting.map((w) => [w.jobId, w.reason]));
    const startedIn = new Map(decision.starts.map((s) => [s.jobId, s.placement.poolId]));
    const preempted = new Set(decision.preemptions.map((p) => p.jobId));
    const started = pending
      .filter((job) => startedIn.has(job.id))
      .map((job) => ({
        ...job,
        state: 'DISPATCHED' as const,
        dispatch: { pool: startedIn.get(job.id)! } as Dispatch,
      }));
    const queues = buildQueueReport({
      pending: [
        ...pending.filter((job) => !startedIn.has(job.id)),
        ...live.filter((job) => preempted.has(job.id)),
      ],
      active: [...live.filter((job) => !preempted.has(job.id)), ...started],
      pools: this.options.pools,
      teams: this.options.teams,
      reasonOf: (job) => reasons.get(job.id),
    });
    await this.options.stateStore.save({ usage: decision.usage, queues });
  }

  private async pendingJobs(): Promise<JobRecord[]> {
    const { store } = this.options;
    const full = this.syncedUpTo === undefined || Date.now() - this.lastFullSyncMs > FULL_SYNC_MS;
    const since = full ? undefined : new Date(Date.parse(this.syncedUpTo!) - WRITE_SKEW_MS).toISOString();
    const changed = await store.listByState('PENDING', since);
    if (full) {
      this.pendingMirror = new Map();
      this.lastFullSyncMs = Date.now();
    }
    for (const job of changed) {
      const known = this.pendingMirror.get(job.id);
      if (!known || known.version <= job.version) this.pendingMirror.set(job.id, job);
      if (this.syncedUpTo === undefined || job.updatedAt > this.syncedUpTo) this.syncedUpTo = job.updatedAt;
    }
    this.syncedUpTo ??= new Date(0).toISOString();
    return [...this.pendingMirror.values()];
  }

  /**
   * Pending jobs, less those that ask for a backend this environment does not have (stored
   * before the API refused such specs): they fail with the reason instead of waiting forever.
   */
  private async pendingOnConfiguredBackends(summary: { failed: string[] }): Promise<JobRecord[]> {
    const runnable: JobRecord[] = [];
    for (const job of await this.pendingJobs()) {
      const wanted = job.spec.backend;
      if (wanted === 'auto' || this.options.backends[wanted as BackendKind]) {
        runnable.push(job);
        continue;
      }
      const reason = new BackendNotConfigured(wanted, this.configuredBackends()).message;
      const failed = await this.settle(job, (current) =>
        current.state === 'PENDING'
          ? { to: 'FAILED', changes: { endedAt: this.now(), stateReason: reason, pendingReason: undefined } }
          : undefined,
      );
      this.remember(failed, job.id);
      if (failed.state === 'FAILED') summary.failed.push(job.id);
    }
    return runnable;
  }

  /** Keeps the mirror in step with a write this dispatcher made or saw refused. */
  private remember(job: JobRecord | undefined, id: string): void {
    if (job?.state === 'PENDING') this.pendingMirror.set(job.id, job);
    else this.pendingMirror.delete(id);
  }

  /**
   * Writes what `next` decides for the job as read, at that version. A conflict means another
   * writer (a cancel, a status report) got there first: read again and decide again.
   */
  private async settle(job: JobRecord, next: (current: JobRecord) => Write | undefined): Promise<JobRecord> {
    const { store } = this.options;
    let current = job;
    for (let tries = 1; ; tries++) {
      const write = next(current);
      if (!write) return current;
      try {
        return write.to
          ? await store.transition(current, write.to, write.changes, current.version)
          : await store.update(current, write.changes, current.version);
      } catch (error) {
        if (!(error instanceof TransitionConflict) || tries >= WRITE_TRIES) throw error;
        current = (await store.get(current.id)) ?? current;
      }
    }
  }

  /** Applies what a backend reported about one attempt (an event, a poll, a reconciliation). */
  async applyStatus(status: BackendJobStatus): Promise<JobRecord | undefined> {
    const parsed = /^dt-([a-z0-9]+)-(\d+)$/.exec(status.name);
    if (!parsed) return undefined;
    const job = await this.options.store.get(parsed[1]!);
    return job && this.applyTo(job, status);
  }

  /**
   * Applies a batch of reports to the live jobs they concern, each attempt's reports in the
   * order of its life (a late RUNNING after SUCCEEDED changes nothing). Reports about other
   * attempts or finished jobs change nothing either. Returns the live jobs as they now stand.
   */
  private async applyStatuses(
    active: readonly JobRecord[],
    statuses: readonly BackendJobStatus[],
  ): Promise<JobRecord[]> {
    if (statuses.length === 0) return [...active];
    const byName = new Map<string, JobRecord>();
    for (const job of active) if (job.dispatch) byName.set(job.dispatch.name, job);
    const ordered = [...statuses].sort((a, b) => STATUS_RANK[a.state] - STATUS_RANK[b.state]);
    for (const status of ordered) {
      const job = byName.get(status.name);
      if (job) byName.set(status.name, await this.applyTo(job, status));
    }
    const now = new Map([...byName.values()].map((job) => [job.id, job]));
    return active.map((job) => now.get(job.id) ?? job).filter((job) => ACTIVE_STATES.includes(job.state));
  }

  private async applyTo(job: JobRecord, status: BackendJobStatus): Promise<JobRecord> {
    if (job.dispatch?.name === status.name) this.confirmedAt.set(status.name, this.clock().getTime());
    const settled = await this.settle(job, (current) => this.statusWrite(current, status));
    return settled.state === 'PREEMPTED' ? this.requeue(settled) : settled;
  }

  /** What a report means for the job as it stands; undefined when it changes nothing. */
  private statusWrite(job: JobRecord, status: BackendJobStatus): Write | undefined {
    // A report about an earlier attempt (e.g. one that was preempted) changes nothing.
    if (job.dispatch?.name !== status.name || !ACTIVE_STATES.includes(job.state)) return undefined;
    const endedAt = this.now();
    switch (status.state) {
      case 'STARTING':
        return undefined;
      case 'RUNNING':
        return job.state === 'DISPATCHED' ? { to: 'RUNNING', changes: { startedAt: endedAt } } : undefined;
      case 'SUCCEEDED':
        return {
          to: 'SUCCEEDED',
          changes: {
            endedAt,
            exitCode: status.exitCode ?? 0,
            stateReason: status.reason,
            backendRetry: undefined,
          },
        };
      case 'FAILED':
        return job.cancelRequested
          ? this.cancelled(endedAt)
          : {
              to: 'FAILED',
              changes: {
                endedAt,
                exitCode: status.exitCode,
                stateReason: status.reason ?? 'failed',
                backendRetry: undefined,
              },
            };
      case 'INTERRUPTED':
        return job.cancelRequested
          ? this.cancelled(endedAt)
          : this.interruption(job, status.reason ?? 'interrupted');
    }
  }

  private cancelled(endedAt: string): Write {
    return {
      to: 'CANCELLED',
      changes: { endedAt, stateReason: 'cancelled by user', backendRetry: undefined },
    };
  }

  /**
   * The infrastructure took the attempt away (spot reclaim, host loss, a lost attempt): the
   * job requeues, unless that was once more than its retries allow.
   */
  private interruption(job: JobRecord, reason: string): Write {
    const interruptions = (job.interruptions ?? 0) + 1;
    if (interruptions > job.spec.retries) {
      return {
        to: 'FAILED',
        changes: {
          endedAt: this.now(),
          interruptions,
          backendRetry: undefined,
          stateReason: `${reason}; interrupted ${interruptions} times, more than its ${job.spec.retries} retries`,
        },
      };
    }
    return {
      to: 'PREEMPTED',
      changes: {
        stateReason: reason,
        interruptions,
        preemptions: job.preemptions + 1,
        attainedGpuS: job.attainedGpuS + this.gpuSecondsOf(job),
        backendRetry: undefined,
      },
    };
  }

  /** Applies the status of a backend without events; other jobs pass through unchanged. */
  private async poll(job: JobRecord): Promise<JobRecord | undefined> {
    const dispatch = job.dispatch;
    const backend = dispatch && this.options.backends[dispatch.backend];
    if (!backend?.poll || !dispatch?.backendJobId) return job;
    try {
      const status = await backend.poll(dispatch);
      return status ? this.applyTo(job, status) : job;
    } catch (error) {
      this.warn('backend poll failed; the next round asks again', {
        jobId: job.id,
        error: backendMessage(error),
      });
      return job;
    }
  }

  /**
   * Confirms live attempts that no event confirmed for `reconcileEveryS` with their backends.
   * An attempt the backend reports ended is applied like an event (a lost event, repaired);
   * one it does not know at all was lost with the backend (a crash, a purge): an interruption.
   * Returns the jobs still live.
   */
  private async reconcile(live: readonly JobRecord[], summary: { reconciled: number; lost: string[] }) {
    const nowMs = this.clock().getTime();
    const everyMs = (this.options.reconcileEveryS ?? 300) * 1000;
    const lostAfterMs = (this.options.lostAfterS ?? 60) * 1000;
    const liveNames = new Set(live.flatMap((job) => (job.dispatch ? [job.dispatch.name] : [])));
    for (const name of this.confirmedAt.keys()) if (!liveNames.has(name)) this.confirmedAt.delete(name);

    const due = new Map<BackendKind, JobRecord[]>();
    for (const job of live) {
      const dispatch = job.dispatch;
      if (!dispatch?.backendJobId || !this.options.backends[dispatch.backend]?.reconcile) continue;
      if (nowMs - (this.confirmedAt.get(dispatch.name) ?? Number.NEGATIVE_INFINITY) < everyMs) continue;
      due.set(dispatch.backend, [...(due.get(dispatch.backend) ?? []), job]);
    }
    const after = new Map<string, JobRecord>();
    for (const [kind, jobs] of due) {
      let known: Map<string, BackendJobStatus>;
      try {
        known = await this.options.backends[kind]!.reconcile!(jobs.map((job) => job.dispatch!));
      } catch (error) {
        this.warn('reconciliation failed; the next round tries again', {
          backend: kind,
          error: backendMessage(error),
        });
        continue;
      }
      for (const job of jobs) {
        const dispatch = job.dispatch!;
        const status = known.get(dispatch.name);
        summary.reconciled++;
        if (status) {
          after.set(job.id, await this.applyTo(job, status));
          continue;
        }
        const submittedMs = Date.parse(dispatch.submittedAt ?? job.updatedAt);
        if (nowMs - submittedMs < lostAfterMs) continue;
        summary.lost.push(job.id);
        after.set(
          job.id,
          await this.applyTo(job, {
            name: dispatch.name,
            backendJobId: dispatch.backendJobId!,
            state: 'INTERRUPTED',
            reason: `lost: the ${kind} backend has no record of attempt ${dispatch.name}`,
          }),
        );
      }
    }
    return live.map((job) => after.get(job.id) ?? job).filter((job) => ACTIVE_STATES.includes(job.state));
  }

  /**
   * A dispatched job whose backend id was never recorded: the dispatcher died mid-submit, or
   * the submit failed with an error that can pass. Finds the attempt by name, else submits it.
   */
  private async heal(job: JobRecord, summary: { recovered: string[] }): Promise<JobRecord | undefined> {
    const dispatch = job.dispatch;
    if (!dispatch || dispatch.backendJobId) return job;
    if (this.backingOff(job)) return job;
    const call = await this.callBackend(job, 'submit', async (backend) => {
      const found = await backend.findByName(dispatch);
      return found ?? (await backend.submit({ job, dispatch }));
    });
    if (!call.ok) return ACTIVE_STATES.includes(call.job.state) ? call.job : undefined;
    summary.recovered.push(job.id);
    return this.recordBackendJobId(job, dispatch, call.value.backendJobId);
  }

  private async start(
    job: JobRecord,
    poolId: string,
    nodes: readonly number[],
    summary: { failed: string[] },
  ): Promise<boolean> {
    const pool = this.options.pools.find((p) => p.id === poolId);
    if (!pool) return false;
    const attempt = job.attempt + 1;
    const kind =
      (pool.backend as BackendKind | undefined) ??
      (job.spec.backend === 'auto' ? this.options.defaultBackend : (job.spec.backend as BackendKind));
    const dispatch: Dispatch = {
      backend: kind,
      pool: pool.id,
      capacityType: pool.capacityType,
      nodes,
      name: attemptName(job.id, attempt),
      submittedAt: this.now(),
    };
    let claimed: JobRecord;
    try {
      // Claim first: if we die after the submit, the next round finds the name and heals.
      claimed = await this.options.store.transition(
        job,
        'DISPATCHED',
        { attempt, dispatch, pendingReason: undefined, backendRetry: undefined },
        job.version,
      );
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      this.remember(await this.options.store.get(job.id), job.id); // cancelled or changed meanwhile
      return false;
    }
    this.pendingMirror.delete(job.id);
    const call = await this.callBackend(claimed, 'submit', (backend) =>
      backend.submit({ job: claimed, dispatch }),
    );
    if (!call.ok) {
      if (call.job.state === 'FAILED') summary.failed.push(job.id);
      return false;
    }
    await this.options.afterSubmit?.(claimed, dispatch);
    await this.recordBackendJobId(claimed, dispatch, call.value.backendJobId);
    return true;
  }

  private recordBackendJobId(job: JobRecord, dispatch: Dispatch, backendJobId: string): Promise<JobRecord> {
    return this.settle(job, (current) =>
      ACTIVE_STATES.includes(current.state) && current.dispatch?.name === dispatch.name
        ? { changes: { dispatch: { ...current.dispatch, backendJobId }, backendRetry: undefined } }
        : undefined,
    );
  }

  /**
   * Stops an attempt on its backend and moves the job to CANCELLED or back to the queue.
   * False when the backend could not be asked (retried with backoff by a later round).
   */
  private async stop(job: JobRecord, reason: string, to: 'CANCELLED' | 'PREEMPTED'): Promise<boolean> {
    if (this.backingOff(job)) return false;
    const dispatch = job.dispatch;
    if (dispatch) {
      const call = await this.callBackend(job, 'terminate', (backend) => backend.terminate(dispatch, reason));
      if (!call.ok) return false;
      // It may have ended on its own before the stop, its report lost: then that is how it ended.
      const ended = await this.endedOnItsOwn(dispatch, reason);
      if (ended) {
        await this.applyTo(job, ended);
        return true;
      }
    }
    const settled = await this.settle(job, (current) => {
      if (!ACTIVE_STATES.includes(current.state) || current.attempt !== job.attempt) return undefined;
      if (to === 'CANCELLED' || current.cancelRequested) return this.cancelled(this.now());
      return {
        to: 'PREEMPTED',
        changes: {
          stateReason: reason,
          preemptions: current.preemptions + 1,
          attainedGpuS: current.attainedGpuS + this.gpuSecondsOf(current),
          backendRetry: undefined,
        },
      };
    });
    if (settled.state === 'PREEMPTED') await this.requeue(settled);
    return true;
  }

  /** The backend's word that an attempt ended for a reason other than `stoppedFor`, if it says so. */
  private async endedOnItsOwn(dispatch: Dispatch, stoppedFor: string): Promise<BackendJobStatus | undefined> {
    const backend = this.options.backends[dispatch.backend];
    if (!backend?.reconcile) return undefined;
    try {
      const status = (await backend.reconcile([dispatch])).get(dispatch.name);
      const ended =
        status &&
        (status.state === 'SUCCEEDED' || status.state === 'FAILED' || status.state === 'INTERRUPTED');
      return ended && status.reason !== stoppedFor ? status : undefined;
    } catch {
      return undefined; // the stop stands
    }
  }

  private async requeue(job: JobRecord): Promise<JobRecord> {
    const requeued = await this.settle(job, (current) => {
      if (current.state !== 'PREEMPTED') return undefined;
      if (current.cancelRequested) return this.cancelled(this.now());
      return {
        to: 'PENDING',
        changes: {
          pendingReason: { code: 'preempted', message: `requeued: ${current.stateReason ?? 'preempted'}` },
          startedAt: undefined,
          cancelRequested: undefined,
        },
      };
    });
    this.remember(requeued, job.id);
    return requeued;
  }

  /**
   * One backend call on behalf of one job. A failure is that job's alone: one that can pass
   * is retried by a later round with backoff (kept in the record); any other fails a submit
   * with the backend's message. Terminates are retried until they succeed: a job that may
   * still run is never marked as stopped.
   */
  private async callBackend<T>(
    job: JobRecord,
    op: BackendRetry['op'],
    call: (backend: ComputeBackend) => Promise<T>,
  ): Promise<BackendCall<T>> {
    const kind = job.dispatch?.backend ?? this.options.defaultBackend;
    try {
      const backend = this.options.backends[kind];
      if (!backend) throw new BackendNotConfigured(kind, this.configuredBackends());
      return { ok: true, value: await call(backend) };
    } catch (error) {
      const message = backendMessage(error);
      const count = (job.backendRetry?.op === op ? job.backendRetry.count : 0) + 1;
      const transient = isTransientBackendError(error);
      this.warn(`backend ${op} failed`, { jobId: job.id, backend: kind, transient, count, error: message });
      if (op === 'submit' && (!transient || count >= this.backoff.maxSubmitFailures)) {
        const stateReason = transient
          ? `${kind} submit failed ${count} times: ${message}`
          : `${kind} refused the job: ${message}`;
        const failed = await this.settle(job, (current) =>
          ACTIVE_STATES.includes(current.state) && current.attempt === job.attempt
            ? { to: 'FAILED', changes: { endedAt: this.now(), stateReason, backendRetry: undefined } }
            : undefined,
        );
        return { ok: false, job: failed };
      }
      const waitS = Math.min(this.backoff.maxS, this.backoff.baseS * 2 ** (count - 1));
      const backendRetry: BackendRetry = {
        op,
        count,
        notBefore: new Date(this.clock().getTime() + waitS * 1000).toISOString(),
        error: message,
      };
      const recorded = await this.settle(job, (current) =>
        ACTIVE_STATES.includes(current.state) && current.attempt === job.attempt
          ? { changes: { backendRetry } }
          : undefined,
      );
      return { ok: false, job: recorded };
    }
  }

  private backingOff(job: JobRecord): boolean {
    const retry = job.backendRetry;
    return retry !== undefined && Date.parse(retry.notBefore) > this.clock().getTime();
  }

  private configuredBackends(): string[] {
    return Object.keys(this.options.backends).filter((kind) => this.options.backends[kind as BackendKind]);
  }

  /**
   * Stores why-pending reasons. A reason is rewritten only when its code changes (its message
   * carries numbers that move every round), and at most `REASON_WRITES_PER_ROUND` per round,
   * so a backlog of 100,000 jobs does not cost 100,000 writes a minute.
   */
  private async recordWaiting(decision: Decision, byId: Map<string, JobRecord>): Promise<void> {
    let writes = 0;
    for (const waiting of decision.waiting) {
      if (writes >= REASON_WRITES_PER_ROUND) return;
      const job = byId.get(waiting.jobId);
      if (job?.state !== 'PENDING' || job.pendingReason?.code === waiting.reason.code) continue;
      writes++;
      try {
        this.remember(
          await this.options.store.update(job, { pendingReason: { ...waiting.reason } }, job.version),
          job.id,
        );
      } catch (error) {
        if (!(error instanceof TransitionConflict)) throw error;
        this.remember(await this.options.store.get(job.id), job.id);
      }
    }
  }

  /**
   * Live jobs as the scheduler sees them, each with its last checkpoint: the newest object
   * in its checkpoint location if this attempt wrote one, else the attempt's start (work
   * before a checkpoint of an earlier attempt was already lost once).
   */
  private async runningJobs(live: readonly JobRecord[]): Promise<RunningJob[]> {
    const nowMs = this.clock().getTime();
    const refreshMs = (this.options.checkpointRefreshS ?? 60) * 1000;
    const liveIds = new Set(live.map((job) => job.id));
    for (const id of this.checkpointSeen.keys()) if (!liveIds.has(id)) this.checkpointSeen.delete(id);
    const running: RunningJob[] = [];
    for (const job of live) {
      if (!job.dispatch) continue;
      const startedAt = Date.parse(job.startedAt ?? job.updatedAt) / 1000;
      let lastCheckpointAt = startedAt;
      const { checkpoints } = this.options;
      // Only a job that may be preempted needs its lost work weighed.
      if (checkpoints && toSchedulerJob(job).preemptible) {
        let seen = this.checkpointSeen.get(job.id);
        if (!seen || nowMs - seen.lookedUpMs >= refreshMs) {
          try {
            const newest = await checkpoints.newestCheckpoint(job);
            seen = { at: newest && newest.getTime() / 1000, lookedUpMs: nowMs };
            this.checkpointSeen.set(job.id, seen);
          } catch (error) {
            this.warn('checkpoint lookup failed', { jobId: job.id, error: backendMessage(error) });
          }
        }
        if (seen?.at !== undefined) lastCheckpointAt = Math.max(startedAt, Math.min(seen.at, nowMs / 1000));
      }
      running.push({
        job: toSchedulerJob(job, 'running'),
        placement: { poolId: job.dispatch.pool, nodes: job.dispatch.nodes },
        startedAt,
        lastCheckpointAt,
      });
    }
    return running;
  }

  private clusterState(pending: JobRecord[], running: RunningJob[], nowS: number): ClusterState {
    const pendingIds = new Set(this.carriedHolds.length > 0 ? pending.map((job) => job.id) : []);
    return {
      carriedHolds: this.carriedHolds.filter((hold) => pendingIds.has(hold.jobId)),
      pools: this.options.pools,
      teams: this.options.teams,
      pending: pending.map((j) => toSchedulerJob(j, 'pending', this.options.environment)),
      running,
      usage: this.usage ?? emptyUsage(nowS),
    };
  }

  private gpuSecondsOf(job: JobRecord): number {
    if (!job.startedAt) return 0;
    const seconds = Math.max(0, (this.clock().getTime() - Date.parse(job.startedAt)) / 1000);
    return seconds * job.spec.resources.gpus * job.spec.resources.nodes;
  }

  private now(): string {
    return this.clock().toISOString();
  }
}

/**
 * Backends that accept each spec, per environment: a round hands the scheduler every pending
 * job, and a warm dispatcher keeps the same records (and specs) from round to round.
 */
const acceptedBySpec = new WeakMap<EnvironmentConfig, WeakMap<JobSpec, readonly string[]>>();

function acceptedBy(spec: JobSpec, environment: EnvironmentConfig): readonly string[] {
  let bySpec = acceptedBySpec.get(environment);
  if (!bySpec) {
    bySpec = new WeakMap();
    acceptedBySpec.set(environment, bySpec);
  }
  let backends = bySpec.get(spec);
  if (!backends) {
    backends = acceptingBackends(spec, environment);
    bySpec.set(spec, backends);
  }
  return backends;
}

/**
 * The scheduler's view of a job: resources as totals over the gang. Given the environment, a
 * `backend: auto` job lists the backends that would accept its spec, so placement keeps it
 * off the others (the local runtime, whose pools run anything, passes none).
 */
export function toSchedulerJob(
  job: JobRecord,
  state: Job['state'] = 'pending',
  environment?: EnvironmentConfig,
): Job {
  const { resources, priorityClass } = job.spec;
  return {
    id: job.id,
    team: job.team,
    priorityClass,
    resources: {
      gpus: resources.gpus * resources.nodes,
      cpus: resources.cpus * resources.nodes,
      memoryMiB: resources.memoryMiB * resources.nodes,
      gpuType: resources.gpus > 0 ? (resources.gpuType ?? CPU_POOL_TYPE) : CPU_POOL_TYPE,
      nodes: resources.nodes,
    },
    preemptible: job.spec.preemptible ?? PRIORITY_CLASSES[priorityClass].preemptible,
    maxRuntimeS: job.spec.maxRuntimeS,
    submitTime: Date.parse(job.submittedAt) / 1000,
    ...(job.spec.backend !== 'auto' && { backend: job.spec.backend }),
    ...(job.spec.backend === 'auto' &&
      environment !== undefined && { backends: acceptedBy(job.spec, environment) }),
    state,
    attainedGpuS: job.attainedGpuS,
  };
}
