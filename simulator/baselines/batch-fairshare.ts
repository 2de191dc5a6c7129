import { ClusterCapacity } from '../../scheduler/capacity';
import { KeyedHeap } from '../../scheduler/keyed-heap';
import type { ClusterState, Job } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type { Decision, SchedulingPolicy, StartJob, WaitingJob } from '../../scheduler/policy';
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
 * job next, where usage is what it runs now plus its decayed recent usage, counted in GPUs (the
 * scarce resource here, where Batch counts vCPUs). A share whose head does not fit is skipped
 * this round. No preemption, no backfill within a share.
 */
export class BatchFairsharePolicy implements SchedulingPolicy {
  readonly name = 'batch-fairshare';
  private readonly decay: DecayedUsage;

  constructor(private readonly config: BatchFairshareConfig) {
    // Batch reads 0 as "current usage only"; a one-second half-life is that, near enough.
    this.decay = new DecayedUsage(Math.max(1, config.shareDecaySeconds));
  }

  decide(state: ClusterState, now: number): Decision {
    const usage = this.decay.advance(state.usage, state.running, now);
    const capacity = ClusterCapacity.of(state.pools, state.running);
    const running = new Map<string, number>();
    for (const { job } of state.running) running.set(job.team, (running.get(job.team) ?? 0) + job.resources.gpus);
    const queues = shareQueues(state.pending);

    const totalGpus = state.pools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
    const active = new Set([...queues.keys(), ...running.keys()]);
    const anyInactive = state.teams.some((team) => !active.has(team.id));
    const reserved = anyInactive ? totalGpus * (this.config.computeReservation / 100) ** active.size : 0;
    let inUse = [...running.values()].reduce((sum, gpus) => sum + gpus, 0);

    const priority = (share: string) =>
      (this.decay.averageAllocation(usage, share).gpus + (running.get(share) ?? 0)) *
      (this.config.weightFactors[share] ?? 1);
    const starts: StartJob[] = [];
    const waiting: WaitingJob[] = [];
    const open = new Set(queues.keys());
    while (open.size > 0) {
      const share = [...open].reduce((best, candidate) =>
        priority(candidate) < priority(best) || (priority(candidate) === priority(best) && candidate < best)
          ? candidate
          : best,
      );
      const queue = queues.get(share)!;
      const head = queue.peek()!.item;
      const placement =
        inUse + head.resources.gpus <= totalGpus - reserved ? place(head, eligiblePools(head, capacity)) : undefined;
      if (placement === undefined) {
        open.delete(share);
        continue;
      }
      queue.pop();
      capacity.allocate(head.resources, placement);
      inUse += head.resources.gpus;
      running.set(share, (running.get(share) ?? 0) + head.resources.gpus);
      starts.push({ jobId: head.id, placement });
      if (queue.size === 0) open.delete(share);
    }
    for (const queue of queues.values()) {
      const head = queue.pop();
      if (head !== undefined) waiting.push({ jobId: head.id, reason: HEAD_BLOCKED });
      for (const job of queue.remaining()) waiting.push({ jobId: job.id, reason: BEHIND_HEAD });
    }
    return { starts, preemptions: [], waiting, usage };
  }
}

function shareQueues(pending: readonly Job[]): Map<string, KeyedHeap<Job>> {
  const byShare = new Map<string, Job[]>();
  for (const job of pending) {
    const jobs = byShare.get(job.team) ?? [];
    jobs.push(job);
    byShare.set(job.team, jobs);
  }
  return new Map(
    [...byShare].map(([share, jobs]) => [
      share,
      KeyedHeap.of(
        jobs,
        jobs.map((job) => job.submitTime),
      ),
    ]),
  );
}
