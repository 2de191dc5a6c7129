import { KeyedHeap } from './keyed-heap';
import type { Job } from './model';

/** Pending jobs in `key` order, with O(log n) add and pop and lazy withdrawal. */
export class JobQueue {
  private readonly heap = KeyedHeap.empty<Job>();
  /** The live jobs; heap entries not found here (by identity) were withdrawn. */
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly key: (job: Job) => number) {}

  get size(): number {
    return this.jobs.size;
  }

  all(): IterableIterator<Job> {
    return this.jobs.values();
  }

  add(job: Job): void {
    this.jobs.set(job.id, job);
    this.heap.push(job, this.key(job));
  }

  withdraw(jobId: string): void {
    this.jobs.delete(jobId);
  }

  peek(): Job | undefined {
    for (let top = this.heap.peek(); top !== undefined; top = this.heap.peek()) {
      if (this.jobs.get(top.item.id) === top.item) return top.item;
      this.heap.pop();
    }
    return undefined;
  }

  pop(): Job | undefined {
    const job = this.peek();
    if (job !== undefined) {
      this.heap.pop();
      this.jobs.delete(job.id);
    }
    return job;
  }
}
