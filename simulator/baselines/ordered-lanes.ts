import type { Job } from '../../scheduler/model';

interface Lane {
  readonly rank: number;
  jobs: Job[];
  keys: number[];
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
  /** Removed jobs still listed in a lane; once they outnumber the pending ones, lanes are rebuilt. */
  private stale = 0;

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
    if (this.pending.delete(jobId)) this.stale++;
  }

  /** Pending jobs in order. Removing the job just yielded is allowed. */
  *inOrder(): IterableIterator<Job> {
    // Backfill takes jobs from the middle of a lane: drop them before they dominate a walk.
    if (this.stale > this.pending.size) this.rebuild();
    for (const lane of this.lanes) {
      this.compact(lane);
      for (let i = lane.head; i < lane.jobs.length; i++) {
        const job = lane.jobs[i]!;
        if (this.pending.has(job.id)) yield job;
      }
    }
  }

  /** Skips removed jobs at the front of a lane. */
  private compact(lane: Lane): void {
    while (lane.head < lane.jobs.length && !this.pending.has(lane.jobs[lane.head]!.id)) lane.head++;
  }

  private rebuild(): void {
    for (const lane of this.lanes) {
      const keep: number[] = [];
      for (let i = lane.head; i < lane.jobs.length; i++) if (this.pending.has(lane.jobs[i]!.id)) keep.push(i);
      lane.jobs = keep.map((i) => lane.jobs[i]!);
      lane.keys = keep.map((i) => lane.keys[i]!);
      lane.head = 0;
    }
    this.stale = 0;
  }
}
