import { ClusterBook } from '../../scheduler/cluster-book';
import { JobQueue } from '../../scheduler/job-queue';
import type { ClusterState, Job } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PendingReason,
  PolicySession,
  RoundOptions,
  StartJob,
  WaitingJob,
} from '../../scheduler/policy';

export const HEAD_BLOCKED: PendingReason = {
  code: 'capacity',
  message: 'at the head of its queue, waiting for room in a pool it may use',
};
export const BEHIND_HEAD: PendingReason = {
  code: 'priority',
  message: 'queued behind a job that is waiting for capacity',
};

/**
 * A single queue without backfill: jobs start in `key` order and the first that does not fit
 * blocks everything behind it (head-of-line blocking), as a plain FIFO or priority queue does.
 */
export class QueueOrderSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly queue: JobQueue;

  constructor(state: ClusterState, key: (job: Job) => number) {
    this.book = new ClusterBook(state);
    this.queue = new JobQueue(key);
    for (const job of state.pending) this.queue.add(job);
  }

  submit(job: Job): void {
    this.queue.add(job);
  }

  withdraw(jobId: string): void {
    this.queue.withdraw(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const capacity = this.book.capacity();
    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    for (let job = this.queue.peek(); job !== undefined; job = this.queue.peek()) {
      const placement = place(job, eligiblePools(job, capacity));
      if (placement === undefined) break;
      this.queue.pop();
      capacity.allocate(job.resources, placement);
      starts.push({ jobId: job.id, placement });
      started.set(job.id, job);
    }
    const head = this.queue.peek();
    const waiting: WaitingJob[] =
      options.explain === false
        ? []
        : [...this.queue.all()].map((job) => ({
            jobId: job.id,
            reason: job === head ? HEAD_BLOCKED : BEHIND_HEAD,
          }));
    const decision = { starts, preemptions: [], waiting, usage: this.book.usage };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }
}
