import { KeyedHeap } from '../keyed-heap';
import type { Job } from '../model';
import { PRIORITY_CLASSES, type PriorityClassName } from '../priority-classes';

/** Classes from lowest to highest value; a job's band starts at its class's index here. */
const CLASSES_ASCENDING = (Object.keys(PRIORITY_CLASSES) as PriorityClassName[]).sort(
  (a, b) => PRIORITY_CLASSES[a].value - PRIORITY_CLASSES[b].value,
);
export const TOP_BAND = CLASSES_ASCENDING.length - 1;
const CLASS_COUNT = CLASSES_ASCENDING.length;
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

/** Strict classes: a job's band is its class, whatever its age (see `agedLevel` for aging). */
export function bandOf(job: Job): number {
  return CLASS_RANK[job.priorityClass];
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
 * Aging within a class: each `agingStepS` waited takes a job one service level back towards
 * fresh work, so a preempted job is not stuck behind new arrivals for ever. Aging never
 * crosses classes (a fresh critical job always goes before old standard work); the
 * starvation bound, not aging, is what caps a wait.
 */
export function agedLevel(job: Job, now: number, agingStepS: number): number {
  const steps = Math.floor(Math.max(0, now - waitingSince(job)) / agingStepS);
  return Math.max(0, serviceLevel(job) - steps);
}

/**
 * A job's place in the index. Taking or withdrawing a job only marks its entry: heaps drop
 * such entries as they surface, and the arrival list when they outnumber the pending ones.
 */
interface Entry {
  readonly job: Job;
  pending: boolean;
}

/** The entries of one heap to be, in arrival order, with their keys. */
interface HeapGroup {
  readonly entries: Entry[];
  readonly keys: number[];
}

/**
 * Pending jobs, indexed so a round pops them in policy order without sorting the queue:
 * one heap per (team, class, service level), keyed by `waitingSince`. Inside one heap the
 * longest-waiting job is both first in line and in the highest band, so heads suffice.
 */
export class PendingIndex {
  /** team → class → service level → heap. */
  private readonly heaps = new Map<string, Map<PriorityClassName, Map<number, KeyedHeap<Entry>>>>();
  /** Every entry in arrival order, pending or not: `all()` lists jobs in this order. */
  private arrivals: Entry[] = [];
  /** How many entries in `arrivals` are no longer pending. */
  private departed = 0;
  /**
   * Pending entries by job id. Only sessions look jobs up by id (`add`, `withdraw`), so it is
   * built on first use, which is also when duplicate ids are caught: hashing 100,000 ids
   * would be a third of a one-shot round.
   */
  private byId: Map<string, Entry> | undefined;

  constructor(
    jobs: Iterable<Job>,
    private readonly agingStepS: number,
  ) {
    for (const job of jobs) this.arrivals.push({ job, pending: true });
    // Group first, then build each heap in O(n): cheaper than pushing 100,000 jobs one by one.
    for (const { entries, keys } of groupByHeap(this.arrivals)) {
      this.heapFor(entries[0]!.job, () => KeyedHeap.of(entries, keys));
    }
  }

  /** The pending jobs, in the order they arrived. */
  *all(): IterableIterator<Job> {
    for (const entry of this.arrivals) if (entry.pending) yield entry.job;
  }

  /** A job became pending. */
  add(job: Job): void {
    if (this.ids().has(job.id)) throw new Error(`job ${job.id} is already pending`);
    this.enqueue(job);
  }

  /** Puts back a job `takeNext` returned and that did not start; it arrives anew. */
  requeue(job: Job): void {
    this.enqueue(job);
  }

  withdraw(jobId: string): void {
    const entry = this.ids().get(jobId);
    if (entry !== undefined) this.depart(entry);
  }

  /** Teams with a job in band `band`. */
  teamsIn(band: number): string[] {
    const name = CLASSES_ASCENDING[band]!;
    return [...this.heaps].filter(([, byClass]) => hasLive(byClass.get(name))).map(([team]) => team);
  }

  /** Removes and returns the team's next job of band `band`: least (aged) service, then oldest. */
  takeNext(team: string, band: number, now: number): Job | undefined {
    const entry = this.bestHeap(team, band, now)?.pop();
    if (entry === undefined) return undefined;
    this.depart(entry);
    return entry.job;
  }

  /**
   * Removes and returns the job that has waited longest, over every team and class, if it
   * has waited at least `minWaitS`. Each heap's head is its oldest job, so heads suffice.
   */
  takeOldest(now: number, minWaitS: number): Job | undefined {
    let oldest: KeyedHeap<Entry> | undefined;
    let since = now - minWaitS;
    for (const byClass of this.heaps.values())
      for (const byLevel of byClass.values())
        for (const heap of byLevel.values()) {
          const head = liveHead(heap);
          if (head !== undefined && waitingSince(head) <= since) {
            since = waitingSince(head);
            oldest = heap;
          }
        }
    const entry = oldest?.pop();
    if (entry === undefined) return undefined;
    this.depart(entry);
    return entry.job;
  }

  private enqueue(job: Job): void {
    const entry = { job, pending: true };
    this.arrivals.push(entry);
    this.byId?.set(job.id, entry);
    this.heapFor(job).push(entry, waitingSince(job));
  }

  private depart(entry: Entry): void {
    entry.pending = false;
    this.byId?.delete(entry.job.id);
    this.departed++;
    // Dropping departed entries once they are half the list keeps `all()` linear in the queue.
    if (this.departed * 2 > this.arrivals.length) {
      this.arrivals = this.arrivals.filter((arrival) => arrival.pending);
      this.departed = 0;
    }
  }

  private ids(): Map<string, Entry> {
    if (this.byId === undefined) {
      this.byId = new Map();
      for (const entry of this.arrivals) {
        if (!entry.pending) continue;
        if (this.byId.has(entry.job.id)) throw new Error(`job ${entry.job.id} is already pending`);
        this.byId.set(entry.job.id, entry);
      }
    }
    return this.byId;
  }

  /** The heap of the job's team, class and service level; `create` makes it on first need. */
  private heapFor(job: Job, create = KeyedHeap.empty<Entry>): KeyedHeap<Entry> {
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
      heap = create();
      byLevel.set(level, heap);
    }
    return heap;
  }

  private bestHeap(team: string, band: number, now: number): KeyedHeap<Entry> | undefined {
    let best: KeyedHeap<Entry> | undefined;
    let bestLevel = Number.POSITIVE_INFINITY;
    let bestSince = Number.POSITIVE_INFINITY;
    const byLevel = this.heaps.get(team)?.get(CLASSES_ASCENDING[band]!);
    for (const heap of byLevel?.values() ?? []) {
      const head = liveHead(heap);
      if (head === undefined) continue;
      const level = agedLevel(head, now, this.agingStepS);
      const since = waitingSince(head);
      if (level < bestLevel || (level === bestLevel && since < bestSince)) {
        best = heap;
        bestLevel = level;
        bestSince = since;
      }
    }
    return best;
  }
}

/**
 * Entries grouped as `heapFor` files them, groups in order of first arrival so heaps are
 * created (and later scanned) in the same order as by adding the jobs one by one. Keyed by
 * team, then by class and service level folded into one number: two lookups per job.
 */
function groupByHeap(entries: readonly Entry[]): HeapGroup[] {
  const groups: HeapGroup[] = [];
  const byTeam = new Map<string, Map<number, HeapGroup>>();
  for (const entry of entries) {
    const { job } = entry;
    let teamGroups = byTeam.get(job.team);
    if (teamGroups === undefined) {
      teamGroups = new Map();
      byTeam.set(job.team, teamGroups);
    }
    const slot = serviceLevel(job) * CLASS_COUNT + CLASS_RANK[job.priorityClass];
    let group = teamGroups.get(slot);
    if (group === undefined) {
      group = { entries: [], keys: [] };
      teamGroups.set(slot, group);
      groups.push(group);
    }
    group.entries.push(entry);
    group.keys.push(waitingSince(job));
  }
  return groups;
}

/** The heap's first pending job; entries of withdrawn jobs are dropped as they surface. */
function liveHead(heap: KeyedHeap<Entry>): Job | undefined {
  for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
    if (top.item.pending) return top.item.job;
    heap.pop();
  }
  return undefined;
}

function hasLive(byLevel: ReadonlyMap<number, KeyedHeap<Entry>> | undefined): boolean {
  for (const heap of byLevel?.values() ?? []) if (liveHead(heap) !== undefined) return true;
  return false;
}
