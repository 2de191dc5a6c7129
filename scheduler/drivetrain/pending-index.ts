import { KeyedHeap } from '../keyed-heap';
import type { Job } from '../model';
import { PRIORITY_CLASSES, type PriorityClassName } from '../priority-classes';

/** Classes from lowest to highest value; a job's band starts at its class's index here. */
const CLASSES_ASCENDING = (Object.keys(PRIORITY_CLASSES) as PriorityClassName[]).sort(
  (a, b) => PRIORITY_CLASSES[a].value - PRIORITY_CLASSES[b].value,
);
export const TOP_BAND = CLASSES_ASCENDING.length - 1;
const CLASS_RANK = Object.fromEntries(CLASSES_ASCENDING.map((name, rank) => [name, rank])) as Record<
  PriorityClassName,
  number
>;
const GPU_HOUR = 3600;

/**
 * When the job would have been submitted had it never run: its age minus its run time is
 * how long it has waited, over all its attempts.
 */
export function waitingSince(job: Job): number {
  return job.submitTime + job.attainedGpuS / Math.max(1, job.resources.gpus);
}

/**
 * Strict classes with aging: a job climbs one band per `agingStepS` of waiting, so a
 * preemptible job outranks fresh standard work after one step and nothing waits for ever.
 * Aging changes the order only; the right to preempt stays with the job's own class.
 */
export function bandOf(job: Job, now: number, agingStepS: number): number {
  const base = CLASS_RANK[job.priorityClass];
  const steps = Math.floor(Math.max(0, now - waitingSince(job)) / agingStepS);
  return Math.min(TOP_BAND, base + steps);
}

/**
 * Least attained service first (Tiresias, NSDI'19), in doubling levels of GPU-hours: a job
 * that already had its turn and was preempted queues behind fresh work. Levels, not exact
 * values, keep the order FIFO among similar jobs and need no runtime estimate.
 */
export function serviceLevel(job: Job): number {
  if (job.attainedGpuS === 0) return 0;
  return Math.floor(Math.log2(1 + job.attainedGpuS / GPU_HOUR));
}

/**
 * Pending jobs, indexed so a round pops them in policy order without sorting the queue:
 * one heap per (team, class, service level), keyed by `waitingSince`. Inside one heap the
 * longest-waiting job is both first in line and in the highest band, so heads suffice.
 */
export class PendingIndex {
  /** team → class → service level → heap. */
  private readonly heaps = new Map<string, Map<PriorityClassName, Map<number, KeyedHeap<Job>>>>();
  /** The live pending jobs; heap entries not found here (by identity) are stale. */
  private readonly jobs = new Map<string, Job>();

  constructor(
    jobs: Iterable<Job>,
    private readonly agingStepS: number,
  ) {
    // Group first, then build each heap in O(n): cheaper than pushing 100,000 jobs one by one.
    const groups = new Map<KeyedHeap<Job>, { jobs: Job[]; keys: number[] }>();
    for (const job of jobs) {
      const known = this.jobs.size;
      this.jobs.set(job.id, job);
      if (this.jobs.size === known) throw new Error(`job ${job.id} is already pending`);
      const heap = this.heapFor(job);
      const group = groups.get(heap);
      if (group === undefined) groups.set(heap, { jobs: [job], keys: [waitingSince(job)] });
      else {
        group.jobs.push(job);
        group.keys.push(waitingSince(job));
      }
    }
    for (const [heap, group] of groups) heap.pushAll(group.jobs, group.keys);
  }

  get size(): number {
    return this.jobs.size;
  }

  get(jobId: string): Job | undefined {
    return this.jobs.get(jobId);
  }

  all(): IterableIterator<Job> {
    return this.jobs.values();
  }

  add(job: Job): void {
    if (this.jobs.has(job.id)) throw new Error(`job ${job.id} is already pending`);
    this.jobs.set(job.id, job);
    this.heapFor(job).push(job, waitingSince(job));
  }

  private heapFor(job: Job): KeyedHeap<Job> {
    let byClass = this.heaps.get(job.team);
    if (byClass === undefined) {
      byClass = new Map();
      this.heaps.set(job.team, byClass);
    }
    let byLevel = byClass.get(job.priorityClass);
    if (byLevel === undefined) {
      byLevel = new Map();
      byClass.set(job.priorityClass, byLevel);
    }
    const level = serviceLevel(job);
    let heap = byLevel.get(level);
    if (heap === undefined) {
      heap = KeyedHeap.empty();
      byLevel.set(level, heap);
    }
    return heap;
  }

  withdraw(jobId: string): void {
    this.jobs.delete(jobId);
  }

  /** Teams with a job in band `band` or above. */
  teamsFrom(band: number, now: number): string[] {
    return [...this.heaps.keys()].filter((team) => this.bestHeap(team, band, now) !== undefined);
  }

  /** Removes and returns the team's next job of band `band` or above: highest band, least service, oldest. */
  takeNext(team: string, band: number, now: number): Job | undefined {
    const job = this.bestHeap(team, band, now)?.pop();
    if (job !== undefined) this.jobs.delete(job.id);
    return job;
  }

  bandOf(job: Job, now: number): number {
    return bandOf(job, now, this.agingStepS);
  }

  private bestHeap(team: string, minBand: number, now: number): KeyedHeap<Job> | undefined {
    let best: KeyedHeap<Job> | undefined;
    let bestRank: [number, number, number] | undefined;
    for (const byLevel of this.heaps.get(team)?.values() ?? [])
      for (const heap of byLevel.values()) {
        const head = this.liveHead(heap);
        if (head === undefined) continue;
        const band = this.bandOf(head, now);
        if (band < minBand) continue;
        const rank: [number, number, number] = [-band, serviceLevel(head), waitingSince(head)];
        if (bestRank === undefined || compareRanks(rank, bestRank) < 0) {
          best = heap;
          bestRank = rank;
        }
      }
    return best;
  }

  /** The heap's first live job; entries of withdrawn jobs are dropped as they surface. */
  private liveHead(heap: KeyedHeap<Job>): Job | undefined {
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (this.jobs.get(top.item.id) === top.item) return top.item;
      heap.pop();
    }
    return undefined;
  }
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
