import type { ClusterState, Job, Pool, RunningJob, Team, UsageLedger } from '../scheduler/model';
import { emptyUsage } from '../scheduler/model';
import type { Decision, SchedulingPolicy } from '../scheduler/policy';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { CPU_POOL_TYPE } from './cluster';
import { attemptName } from './ids';
import type { BackendKind, Dispatch, JobRecord } from './job';
import {
  type BackendJobStatus,
  type ComputeBackend,
  type DispatcherStateStore,
  type JobStore,
  TransitionConflict,
} from './ports';
import { buildQueueReport } from './queues';
import { isTerminal } from './states';

/** Heads of the queues come first in `decision.waiting`, so a cap keeps the reasons people look at current. */
const REASON_WRITES_PER_ROUND = 200;
/** A warm dispatcher rereads the whole backlog this often, dropping any stale entries. */
const FULL_SYNC_MS = 60_000;
/** How far a write's updatedAt may trail its commit: incremental reads overlap by this much. */
const WRITE_SKEW_MS = 5_000;

export interface DispatcherOptions {
  readonly store: JobStore;
  readonly policy: SchedulingPolicy;
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  readonly backends: Partial<Record<BackendKind, ComputeBackend>>;
  /** Backend for jobs that leave the choice to the platform (`backend: auto`). */
  readonly defaultBackend: BackendKind;
  /**
   * Keeps fair-share usage across cold starts and publishes each round's queue report;
   * without it usage starts empty in each process.
   */
  readonly stateStore?: DispatcherStateStore;
  readonly clock?: () => Date;
  /** Test hook: runs between a backend submit and the write that records it. */
  readonly afterSubmit?: (job: JobRecord, dispatch: Dispatch) => void | Promise<void>;
}

export interface RoundSummary {
  readonly started: string[];
  readonly preempted: string[];
  readonly cancelled: string[];
  readonly recovered: string[];
  readonly pending: number;
}

/**
 * One dispatch round: load the live jobs, heal what an earlier crash left half done, ask the
 * scheduling policy what to run, then act on the backends and record every decision. Rounds
 * must not overlap (the Lambda runs with reserved concurrency 1; the local runtime serialises
 * them); every write is conditional, so a racing API call (a cancel) always wins cleanly.
 */
export class Dispatcher {
  private usage: UsageLedger | undefined;
  private readonly clock: () => Date;
  /**
   * Pending jobs as of the last round, kept by a warm dispatcher (a reused Lambda container,
   * the local worker) so a round reads only what changed instead of the whole backlog.
   * Entries can be stale (a job cancelled meanwhile); every write is conditional, so a stale
   * entry costs at most a refused transition, and a full read every FULL_SYNC_MS clears them.
   */
  private pendingMirror = new Map<string, JobRecord>();
  private syncedUpTo: string | undefined;
  private lastFullSyncMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: DispatcherOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async round(): Promise<RoundSummary> {
    const { store } = this.options;
    const summary: RoundSummary = { started: [], preempted: [], cancelled: [], recovered: [], pending: 0 };

    for (const job of await store.listByState('PREEMPTED')) await this.requeue(job);
    const active = [...(await store.listByState('DISPATCHED')), ...(await store.listByState('RUNNING'))];
    const live: JobRecord[] = [];
    for (const job of active) {
      if (job.cancelRequested) {
        await this.stop(job, 'cancelled by user', 'CANCELLED');
        summary.cancelled.push(job.id);
      } else {
        const healed = await this.heal(job, summary);
        const polled = await this.poll(healed);
        if (polled && !isTerminal(polled.state) && polled.state !== 'PENDING') live.push(polled);
      }
    }
    const pending = await this.pendingJobs();
    const nowS = this.clock().getTime() / 1000;
    this.usage ??= (await this.options.stateStore?.load())?.usage;
    const decision = this.options.policy.decide(this.clusterState(pending, live, nowS), nowS);
    this.usage = decision.usage;
    await this.publish(decision, pending, live);

    const byId = new Map([...pending, ...live].map((j) => [j.id, j]));
    for (const preemption of decision.preemptions) {
      const victim = byId.get(preemption.jobId);
      if (!victim) continue;
      await this.stop(victim, `preempted for ${preemption.forJobId} (${preemption.reason})`, 'PREEMPTED');
      summary.preempted.push(victim.id);
    }
    for (const start of decision.starts) {
      const job = byId.get(start.jobId);
      if (job && (await this.start(job, start.placement.poolId, start.placement.nodes)))
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

  /** Keeps the mirror in step with a write this dispatcher made or saw refused. */
  private remember(job: JobRecord | undefined, id: string): void {
    if (job?.state === 'PENDING') this.pendingMirror.set(job.id, job);
    else this.pendingMirror.delete(id);
  }

  /** Applies what a backend reported about one attempt (EventBridge on AWS, the process backend locally). */
  async applyStatus(status: BackendJobStatus): Promise<JobRecord | undefined> {
    const parsed = /^dt-([a-z0-9]+)-(\d+)$/.exec(status.name);
    if (!parsed) return undefined;
    const job = await this.options.store.get(parsed[1]!);
    // A report about an earlier attempt (e.g. one that was preempted) changes nothing.
    if (!job || job.attempt !== Number(parsed[2]) || job.dispatch?.name !== status.name) return job;
    const now = this.clock().toISOString();
    try {
      switch (status.state) {
        case 'STARTING':
          return job;
        case 'RUNNING':
          return job.state === 'DISPATCHED'
            ? await this.options.store.transition(job, 'RUNNING', { startedAt: now })
            : job;
        case 'SUCCEEDED':
          return await this.options.store.transition(job, 'SUCCEEDED', {
            endedAt: now,
            exitCode: status.exitCode ?? 0,
            stateReason: status.reason,
          });
        case 'FAILED':
          return await this.options.store.transition(job, job.cancelRequested ? 'CANCELLED' : 'FAILED', {
            endedAt: now,
            exitCode: status.exitCode,
            stateReason: status.reason ?? 'failed',
          });
        case 'INTERRUPTED':
          if (job.cancelRequested)
            return await this.options.store.transition(job, 'CANCELLED', {
              endedAt: now,
              stateReason: 'cancelled by user',
            });
          // Capacity was taken back (spot reclaim, host loss): requeue, it is not the job's failure.
          return await this.requeue(
            await this.options.store.transition(job, 'PREEMPTED', {
              stateReason: status.reason ?? 'interrupted',
              preemptions: job.preemptions + 1,
              attainedGpuS: job.attainedGpuS + this.gpuSecondsOf(job),
            }),
          );
      }
    } catch (error) {
      if (error instanceof TransitionConflict) return this.options.store.get(job.id);
      throw error;
    }
  }

  /** Applies the status of a backend without events; other jobs pass through unchanged. */
  private async poll(job: JobRecord): Promise<JobRecord | undefined> {
    const backend = job.dispatch && this.options.backends[job.dispatch.backend];
    const status = backend?.poll && job.dispatch?.backendJobId ? await backend.poll(job.dispatch) : undefined;
    return status ? this.applyStatus(status) : job;
  }

  /** A dispatched job whose backend id was never recorded: the dispatcher died mid-submit. */
  private async heal(job: JobRecord, summary: RoundSummary): Promise<JobRecord> {
    const dispatch = job.dispatch;
    if (!dispatch || dispatch.backendJobId) return job;
    const backend = this.backendFor(dispatch.backend);
    const found = await backend.findByName(dispatch);
    const { backendJobId } = found ?? (await backend.submit({ job, dispatch }));
    summary.recovered.push(job.id);
    return this.options.store.update(job, { dispatch: { ...dispatch, backendJobId } });
  }

  private async start(job: JobRecord, poolId: string, nodes: readonly number[]): Promise<boolean> {
    const pool = this.options.pools.find((p) => p.id === poolId);
    if (!pool) return false;
    const attempt = job.attempt + 1;
    const kind =
      (pool.backend as BackendKind | undefined) ??
      (job.spec.backend === 'auto' ? this.options.defaultBackend : job.spec.backend);
    const dispatch: Dispatch = {
      backend: kind,
      pool: pool.id,
      capacityType: pool.capacityType,
      nodes,
      name: attemptName(job.id, attempt),
    };
    let claimed: JobRecord;
    try {
      // Claim first: if we die after the submit, the next round finds the name and heals.
      claimed = await this.options.store.transition(
        job,
        'DISPATCHED',
        { attempt, dispatch, pendingReason: undefined },
        job.version,
      );
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      this.remember(await this.options.store.get(job.id), job.id); // cancelled or changed meanwhile
      return false;
    }
    this.pendingMirror.delete(job.id);
    const { backendJobId } = await this.backendFor(kind).submit({ job: claimed, dispatch });
    await this.options.afterSubmit?.(claimed, dispatch);
    await this.options.store.update(claimed, { dispatch: { ...dispatch, backendJobId } });
    return true;
  }

  /** Stops an attempt on its backend and moves the job to CANCELLED or back to the queue. */
  private async stop(job: JobRecord, reason: string, to: 'CANCELLED' | 'PREEMPTED'): Promise<void> {
    if (job.dispatch) await this.backendFor(job.dispatch.backend).terminate(job.dispatch, reason);
    try {
      if (to === 'CANCELLED') {
        await this.options.store.transition(job, 'CANCELLED', {
          endedAt: this.clock().toISOString(),
          stateReason: reason,
        });
      } else {
        const preempted = await this.options.store.transition(job, 'PREEMPTED', {
          stateReason: reason,
          preemptions: job.preemptions + 1,
          attainedGpuS: job.attainedGpuS + this.gpuSecondsOf(job),
        });
        await this.requeue(preempted);
      }
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error; // it finished meanwhile
    }
  }

  private async requeue(job: JobRecord): Promise<JobRecord> {
    let requeued: JobRecord;
    try {
      requeued = await this.options.store.transition(job, 'PENDING', {
        pendingReason: { code: 'preempted', message: `requeued: ${job.stateReason ?? 'preempted'}` },
        startedAt: undefined,
      });
    } catch (error) {
      if (!(error instanceof TransitionConflict)) throw error;
      requeued = (await this.options.store.get(job.id)) ?? job;
    }
    this.remember(requeued, job.id);
    return requeued;
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

  private clusterState(pending: JobRecord[], live: JobRecord[], nowS: number): ClusterState {
    const running: RunningJob[] = live
      .filter((j) => j.dispatch)
      .map((j) => {
        const startedAt = Date.parse(j.startedAt ?? j.updatedAt) / 1000;
        return {
          job: toSchedulerJob(j, 'running'),
          placement: { poolId: j.dispatch!.pool, nodes: j.dispatch!.nodes },
          startedAt,
          lastCheckpointAt: startedAt,
        };
      });
    return {
      pools: this.options.pools,
      teams: this.options.teams,
      pending: pending.map((j) => toSchedulerJob(j)),
      running,
      usage: this.usage ?? emptyUsage(nowS),
    };
  }

  private gpuSecondsOf(job: JobRecord): number {
    if (!job.startedAt) return 0;
    const seconds = Math.max(0, (this.clock().getTime() - Date.parse(job.startedAt)) / 1000);
    return seconds * job.spec.resources.gpus * job.spec.resources.nodes;
  }

  private backendFor(kind: BackendKind): ComputeBackend {
    const backend = this.options.backends[kind];
    if (!backend) throw new Error(`no ${kind} backend configured`);
    return backend;
  }
}

/** The scheduler's view of a job: resources as totals over the gang. */
export function toSchedulerJob(job: JobRecord, state: Job['state'] = 'pending'): Job {
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
    state,
    attainedGpuS: job.attainedGpuS,
  };
}
