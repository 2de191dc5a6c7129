import type { Job } from '../../scheduler/model';

interface Lane {
  readonly rank: number;
  readonly jobs: Job[];
  readonly keys: number[];
  head: number;
}

/**
 * Pending jobs in lanes, highest rank first, each lane in ascending key order (ties keep
 * arrival order), read in place: a round walks the front of the queue without popping and
 * pushing back. Jobs mostly arrive in key order (submit time), so adding is an append.
 */
export class OrderedLanes {
  private readonly lanes: Lane[] = [];
  private readonly pending = new Set<string>();

  get size(): number {
    return this.pending.size;
  }

  has(jobId: string): boolean {
    return this.pending.has(jobId);
  }

  add(job: Job, rank: number, key: number): void {
    if (this.pending.has(job.id)) throw new Error(`job ${job.id} is already pending`);
    this.pending.add(job.id);
    let lane = this.lanes.find((candidate) => candidate.rank === rank);
    if (lane === undefined) {
      lane = { rank, jobs: [], keys: [], head: 0 };
      this.lanes.push(lane);
      this.lanes.sort((a, b) => b.rank - a.rank);
    }
    let at = lane.keys.length;
    if (at > lane.head && lane.keys[at - 1]! > key) {
      let low = lane.head;
      while (low < at) {
        const mid = (low + at) >> 1;
        if (lane.keys[mid]! <= key) low = mid + 1;
        else at = mid;
      }
    }
    lane.jobs.splice(at, 0, job);
    lane.keys.splice(at, 0, key);
  }

  remove(jobId: string): void {
    this.pending.delete(jobId);
  }

  /** Pending jobs in order. Removing the job just yielded is allowed. */
  *inOrder(): IterableIterator<Job> {
    for (const lane of this.lanes) {
      this.compact(lane);
      for (let i = lane.head; i < lane.jobs.length; i++) {
        const job = lane.jobs[i]!;
        if (this.pending.has(job.id)) yield job;
      }
    }
  }

  /** Drops removed jobs from the front, and from the whole lane once they are most of it. */
  private compact(lane: Lane): void {
    while (lane.head < lane.jobs.length && !this.pending.has(lane.jobs[lane.head]!.id)) lane.head++;
    if (lane.head > 1024 && lane.head * 2 > lane.jobs.length) {
      lane.jobs.splice(0, lane.head);
      lane.keys.splice(0, lane.head);
      lane.head = 0;
    }
  }
}
