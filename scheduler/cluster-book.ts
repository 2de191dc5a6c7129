import { ClusterCapacity } from './capacity';
import type { ClusterState, Job, Placement, Pool, RunningJob, Team, UsageLedger } from './model';
import type { Decision } from './policy';

/**
 * What a policy session knows about running work between rounds: who runs where, the free
 * capacity that leaves, and the usage ledger. Pending queues are each policy's own business.
 */
export class ClusterBook {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  private readonly runningJobs = new Map<string, RunningJob>();
  private readonly free: ClusterCapacity;
  usage: UsageLedger;

  constructor(state: ClusterState) {
    this.pools = state.pools;
    this.teams = state.teams;
    this.usage = state.usage;
    this.free = ClusterCapacity.of(state.pools, []);
    for (const run of state.running) this.track(run);
  }

  running(): RunningJob[] {
    return [...this.runningJobs.values()];
  }

  /** A copy a round can spend without touching the book. */
  capacity(): ClusterCapacity {
    return this.free.clone();
  }

  finish(jobId: string): void {
    const run = this.runningJobs.get(jobId);
    if (run === undefined) throw new Error(`job ${jobId} is not running`);
    this.free.release(run.job.resources, run.placement);
    this.runningJobs.delete(jobId);
  }

  checkpointed(jobId: string, at: number): void {
    const run = this.runningJobs.get(jobId);
    if (run !== undefined) this.runningJobs.set(jobId, { ...run, lastCheckpointAt: at });
  }

  /** Applies a decision: victims stop first, then the started jobs (found via `pending`) run. */
  apply(decision: Decision, pending: (jobId: string) => Job, now: number): void {
    this.usage = decision.usage;
    for (const { jobId } of decision.preemptions) this.finish(jobId);
    for (const { jobId, placement } of decision.starts) this.start(pending(jobId), placement, now);
  }

  private start(job: Job, placement: Placement, now: number): void {
    this.track({ job: { ...job, state: 'running' }, placement, startedAt: now, lastCheckpointAt: now });
  }

  private track(run: RunningJob): void {
    this.free.allocate(run.job.resources, run.placement);
    this.runningJobs.set(run.job.id, run);
  }
}
