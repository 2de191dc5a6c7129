import { ClusterBook } from '../../scheduler/cluster-book';
import { JobQueue } from '../../scheduler/job-queue';
import type { ClusterState, Job } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PolicySession,
  RoundOptions,
  SchedulingPolicy,
  StartJob,
  WaitingJob,
} from '../../scheduler/policy';
import { DecayedUsage } from '../../scheduler/usage';
import { BEHIND_HEAD, HEAD_BLOCKED } from './queue-order';

/** The knobs of an AWS Batch fair-share scheduling policy (SchedulingPolicyDetail). */
export interface BatchFairshareConfig {
  /** Decay period of past usage; modelled as the half-life of exponential decay. */
  readonly shareDecaySeconds: number;
  /** Capacity held back for inactive shares: (computeReservation/100)^activeShares. */
  readonly computeReservation: number;
  /** Per share identifier; default 1, and lower gets more (0.125 gets eight times 1). */
  readonly weightFactors: Readonly<Record<string, number>>;
}

/**
 * A model of an AWS Batch fair-share job queue, which cannot run here. Each share identifier
 * (team) has a FIFO queue. The share with the least usage × weightFactor dispatches its head
 * job next, where usage is what it runs now plus its decayed recent usage, counted in GPUs
 * (the scarce resource here; Batch counts vCPUs). A share whose head does not fit is passed
 * over for the round. No preemption, no backfill within a share.
 */
export class BatchFairsharePolicy implements SchedulingPolicy {
  readonly name = 'batch-fairshare';

  constructor(private readonly config: BatchFairshareConfig) {}

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new BatchFairshareSession(state, this.config);
  }
}

class BatchFairshareSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly shares = new Map<string, JobQueue>();
  private readonly decay: DecayedUsage;

  constructor(
    state: ClusterState,
    private readonly config: BatchFairshareConfig,
  ) {
    this.book = new ClusterBook(state);
    // Batch reads 0 as "current usage only"; a one-second half-life is that, near enough.
    this.decay = new DecayedUsage(Math.max(1, config.shareDecaySeconds));
    for (const job of state.pending) this.submit(job);
  }

  submit(job: Job): void {
    let queue = this.shares.get(job.team);
    if (queue === undefined) {
      queue = new JobQueue((queued) => queued.submitTime);
      this.shares.set(job.team, queue);
    }
    queue.add(job);
  }

  withdraw(jobId: string): void {
    for (const queue of this.shares.values()) queue.withdraw(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const running = this.book.running();
    const usage = this.decay.advance(this.book.usage, running, now);
    const capacity = this.book.capacity();
    const held = new Map<string, number>();
    for (const { job } of running) held.set(job.team, (held.get(job.team) ?? 0) + job.resources.gpus);
    const cap = this.usableGpus(held);
    let inUse = [...held.values()].reduce((sum, gpus) => sum + gpus, 0);
    const priority = (share: string) =>
      (this.decay.averageAllocation(usage, share).gpus + (held.get(share) ?? 0)) *
      (this.config.weightFactors[share] ?? 1);

    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    const open = new Set([...this.shares].filter(([, queue]) => queue.size > 0).map(([share]) => share));
    while (open.size > 0) {
      const share = [...open].reduce((best, next) => {
        const diff = priority(next) - priority(best);
        return diff < 0 || (diff === 0 && next < best) ? next : best;
      });
      const queue = this.shares.get(share)!;
      const head = queue.peek()!;
      const fitsReservation = inUse + head.resources.gpus <= cap;
      const placement = fitsReservation ? place(head, eligiblePools(head, capacity)) : undefined;
      if (placement === undefined) {
        open.delete(share);
        continue;
      }
      queue.pop();
      capacity.allocate(head.resources, placement);
      inUse += head.resources.gpus;
      held.set(share, (held.get(share) ?? 0) + head.resources.gpus);
      starts.push({ jobId: head.id, placement });
      started.set(head.id, head);
      if (queue.size === 0) open.delete(share);
    }
    const decision = {
      starts,
      preemptions: [],
      waiting: options.explain === false ? [] : this.explain(),
      usage,
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }

  /** GPUs active shares may hold: computeReservation keeps the rest for inactive shares. */
  private usableGpus(held: ReadonlyMap<string, number>): number {
    const total = this.book.pools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
    const active = new Set([
      ...held.keys(),
      ...[...this.shares].filter(([, q]) => q.size > 0).map(([s]) => s),
    ]);
    const anyInactive = this.book.teams.some((team) => !active.has(team.id));
    return anyInactive ? total * (1 - (this.config.computeReservation / 100) ** active.size) : total;
  }

  private explain(): WaitingJob[] {
    const waiting: WaitingJob[] = [];
    for (const queue of this.shares.values()) {
      const head = queue.peek();
      for (const job of queue.all())
        waiting.push({ jobId: job.id, reason: job === head ? HEAD_BLOCKED : BEHIND_HEAD });
    }
    return waiting;
  }
}
