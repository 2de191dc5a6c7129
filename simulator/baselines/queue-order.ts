import { ClusterCapacity } from '../../scheduler/capacity';
import { KeyedHeap } from '../../scheduler/keyed-heap';
import type { ClusterState, Job } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type { Decision, PendingReason, StartJob, WaitingJob } from '../../scheduler/policy';

export const HEAD_BLOCKED: PendingReason = {
  code: 'capacity',
  message: 'at the head of its queue, waiting for room in a pool it may use',
};
export const BEHIND_HEAD: PendingReason = {
  code: 'priority',
  message: 'queued behind a job that is waiting for capacity',
};

/**
 * One round of a queue without backfill: start jobs in `key` order and stop at the first
 * that does not fit (head-of-line blocking), as a plain FIFO or priority queue does.
 */
export function startInOrder(state: ClusterState, key: (job: Job) => number): Decision {
  const queue = KeyedHeap.of([...state.pending], state.pending.map(key));
  const capacity = ClusterCapacity.of(state.pools, state.running);
  const starts: StartJob[] = [];
  const waiting: WaitingJob[] = [];
  for (let job = queue.pop(); job !== undefined; job = queue.pop()) {
    const placement = place(job, eligiblePools(job, capacity));
    if (placement === undefined) {
      waiting.push({ jobId: job.id, reason: HEAD_BLOCKED });
      break;
    }
    capacity.allocate(job.resources, placement);
    starts.push({ jobId: job.id, placement });
  }
  for (const job of queue.remaining()) waiting.push({ jobId: job.id, reason: BEHIND_HEAD });
  return { starts, preemptions: [], waiting, usage: state.usage };
}
