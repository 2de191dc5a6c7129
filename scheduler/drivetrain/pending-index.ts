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
 * fresh work, so a preempted job is not stuck behind new arrivals for ever.
 * Aging never crosses classes (a fresh critical job always goes before old standard work);
 * the starvation bound, not aging, is what caps a wait.
 */
export function agedLevel(job: Job, now: number, agingStepS: number): number {
  const steps = Math.floor(Math.max(0, now - waitingSince(job)) / agingStepS);
  return Math.max(0, serviceLevel(job) - steps);
}

/** The positions (in `arrivals`) of one heap to be, in arrival order, with their keys. */
interface HeapGroup {
  readonly positions: number[];
  readonly keys: number[];
}

/**
 * Pending jobs, indexed so a round pops them in policy order without sorting the queue:
 * one heap per (team, class, service level), keyed by `waitingSince`. Inside one heap the
 * longest-waiting job is both first in line and in the highest band, so heads suffice.
 * Heaps hold positions in the arrival list, not objects: a round builds the index afresh
 * over 100,000 jobs, and one object per job was a third of its time in allocation and GC.
 */
export class PendingIndex {
  /** team → class → service level → heap of positions. */
  private readonly heaps = new Map<string, Map<PriorityClassName, Map<number, KeyedHeap<number>>>>();
  /**
   * Every job in arrival order, pending or not: `all()` lists jobs in this order. Until the
   * index first changes it, this is the snapshot it was built from (read, never written):
   * a one-shot round need not copy 100,000 jobs.
   */
  private arrivals: readonly Job[];
  private ownedArrivals: Job[] | undefined;
  /**
   * Per position, 0 once the job there is no longer pending, else its band + 1. Taking or
   * withdrawing a job only clears this: heaps drop such positions as they surface, and the
   * arrival list when they outnumber the pending ones. May be longer than `arrivals`.
   */
  private bandAt: Uint8Array;
  /** How many positions in `arrivals` are no longer pending. */
  private departed = 0;
  /**
   * Pending positions by job id. Only sessions look jobs up by id (`add`, `withdraw`), so it
   * is built on first use, which is also when duplicate ids are caught: hashing 100,000 ids
   * would be a third of a one-shot round.
   */
  private byId: Map<string, number> | undefined;
  /**
   * Jobs put back by `requeue`, filed on the index's next use, in order: a one-shot round
   * (the dispatcher's) puts back a thousand jobs and never uses the index again.
   */
  private requeued: Job[] = [];

  constructor(
    jobs: Iterable<Job>,
    private readonly agingStepS: number,
  ) {
    this.arrivals = Array.isArray(jobs) ? jobs : Array.from(jobs);
    this.bandAt = new Uint8Array(this.arrivals.length);
    // Group first, then build each heap in O(n): cheaper than pushing 100,000 jobs one by one.
    for (const { positions, keys } of groupByHeap(this.arrivals, this.bandAt)) {
      this.heapFor(this.arrivals[positions[0]!]!, () => KeyedHeap.of(positions, keys));
    }
  }

  /** The pending jobs, in the order they arrived. */
  all(): IterableIterator<Job> {
    this.fileRequeued();
    return this.pendingJobs();
  }

  /** Calls `visit` on each pending job in the order they arrived, with its band. */
  forEachPending(visit: (job: Job, band: number) => void): void {
    this.fileRequeued();
    const { arrivals, bandAt } = this;
    for (let position = 0; position < arrivals.length; position++) {
      const band = bandAt[position]! - 1;
      if (band >= 0) visit(arrivals[position]!, band);
    }
  }

  /** A job became pending. */
  add(job: Job): void {
    this.fileRequeued();
    if (this.ids().has(job.id)) throw new Error(`job ${job.id} is already pending`);
    this.enqueue(job);
  }

  /** Puts back a job `takeNext` returned and that did not start; it arrives anew. */
  requeue(job: Job): void {
    this.requeued.push(job);
  }

  withdraw(jobId: string): void {
    this.fileRequeued();
    const position = this.ids().get(jobId);
    if (position !== undefined) this.depart(position);
  }

  /** Teams with a job in band `band`. */
  teamsIn(band: number): string[] {
    this.fileRequeued();
    const name = CLASSES_ASCENDING[band]!;
    return [...this.heaps].filter(([, byClass]) => this.hasLive(byClass.get(name))).map(([team]) => team);
  }

  /** Removes and returns the team's next job of band `band`: least (aged) service, then oldest. */
  takeNext(team: string, band: number, now: number): Job | undefined {
    this.fileRequeued();
    return this.take(this.bestHeap(team, band, now));
  }

  /**
   * Removes and returns the job that has waited longest, over every team and class, if it
   * has waited at least `minWaitS`; with `band`, only among that band's jobs. Each heap's
   * head is its oldest job, so heads suffice.
   */
  takeOldest(now: number, minWaitS: number, band?: number): Job | undefined {
    this.fileRequeued();
    let oldest: KeyedHeap<number> | undefined;
    let since = now - minWaitS;
    const only = band === undefined ? undefined : CLASSES_ASCENDING[band];
    for (const byClass of this.heaps.values())
      for (const [name, byLevel] of byClass) {
        if (only !== undefined && name !== only) continue;
        for (const heap of byLevel.values()) {
          const head = this.liveHead(heap);
          if (head !== undefined && waitingSince(head) <= since) {
            since = waitingSince(head);
            oldest = heap;
          }
        }
      }
    return this.take(oldest);
  }

  private *pendingJobs(): IterableIterator<Job> {
    const { arrivals, bandAt } = this;
    for (let position = 0; position < arrivals.length; position++)
      if (bandAt[position] !== 0) yield arrivals[position]!;
  }

  private fileRequeued(): void {
    if (this.requeued.length === 0) return;
    const jobs = this.requeued;
    this.requeued = [];
    for (const job of jobs) this.enqueue(job);
  }

  private take(heap: KeyedHeap<number> | undefined): Job | undefined {
    const position = heap?.pop();
    if (position === undefined) return undefined;
    // Read before `depart`, which may compact the arrival list.
    const job = this.arrivals[position]!;
    this.depart(position);
    return job;
  }

  private enqueue(job: Job): void {
    this.ownedArrivals ??= [...this.arrivals];
    this.arrivals = this.ownedArrivals;
    const position = this.ownedArrivals.length;
    this.ownedArrivals.push(job);
    if (position === this.bandAt.length) {
      const grown = new Uint8Array(Math.max(16, position * 2));
      grown.set(this.bandAt);
      this.bandAt = grown;
    }
    this.bandAt[position] = CLASS_RANK[job.priorityClass] + 1;
    this.byId?.set(job.id, position);
    this.heapFor(job).push(position, waitingSince(job));
  }

  private depart(position: number): void {
    this.bandAt[position] = 0;
    this.byId?.delete(this.arrivals[position]!.id);
    this.departed++;
    // Dropping departed positions once they are half the list keeps `all()` linear in the queue.
    if (this.departed * 2 > this.arrivals.length) this.compact();
  }

  /**
   * Keeps only pending positions, renumbered in order. Heaps are renumbered in place, so
   * their order (and how they break ties) is as if nothing moved; a withdrawn job still in a
   * heap gets position -1, which is never pending.
   */
  private compact(): void {
    const renumbered = new Int32Array(this.arrivals.length).fill(-1);
    const arrivals: Job[] = [];
    const bandAt = new Uint8Array(this.bandAt.length);
    for (let position = 0; position < this.arrivals.length; position++) {
      if (this.bandAt[position] === 0) continue;
      renumbered[position] = arrivals.length;
      bandAt[arrivals.length] = this.bandAt[position]!;
      arrivals.push(this.arrivals[position]!);
    }
    const moved = (position: number) => (position < 0 ? -1 : renumbered[position]!);
    for (const byClass of this.heaps.values())
      for (const byLevel of byClass.values()) for (const heap of byLevel.values()) heap.mapItems(moved);
    if (this.byId !== undefined)
      for (const [id, position] of this.byId) this.byId.set(id, renumbered[position]!);
    this.arrivals = arrivals;
    this.ownedArrivals = arrivals;
    this.bandAt = bandAt;
    this.departed = 0;
  }

  private ids(): Map<string, number> {
    if (this.byId === undefined) {
      this.byId = new Map();
      for (let position = 0; position < this.arrivals.length; position++) {
        if (this.bandAt[position] === 0) continue;
        const { id } = this.arrivals[position]!;
        if (this.byId.has(id)) throw new Error(`job ${id} is already pending`);
        this.byId.set(id, position);
      }
    }
    return this.byId;
  }

  /** The heap of the job's team, class and service level; `create` makes it on first need. */
  private heapFor(job: Job, create = KeyedHeap.empty<number>): KeyedHeap<number> {
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

  private bestHeap(team: string, band: number, now: number): KeyedHeap<number> | undefined {
    let best: KeyedHeap<number> | undefined;
    let bestLevel = Number.POSITIVE_INFINITY;
    let bestSince = Number.POSITIVE_INFINITY;
    const byLevel = this.heaps.get(team)?.get(CLASSES_ASCENDING[band]!);
    for (const heap of byLevel?.values() ?? []) {
      const head = this.liveHead(heap);
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

  /** The heap's first pending job; positions of withdrawn jobs are dropped as they surface. */
  private liveHead(heap: KeyedHeap<number>): Job | undefined {
    while (heap.size > 0) {
      const position = heap.peekItem()!;
      if (position >= 0 && this.bandAt[position] !== 0) return this.arrivals[position];
      heap.pop();
    }
    return undefined;
  }

  private hasLive(byLevel: ReadonlyMap<number, KeyedHeap<number>> | undefined): boolean {
    for (const heap of byLevel?.values() ?? []) if (this.liveHead(heap) !== undefined) return true;
    return false;
  }
}

/**
 * Positions grouped as `heapFor` files their jobs, groups in order of first arrival so heaps
 * are created (and later scanned) in the same order as by adding the jobs one by one. Keyed
 * by team, then by class and service level folded into one small number (an array index).
 * Two passes, so each group's arrays are allocated once at their final size. Writes each
 * position's band + 1 into `bandAt`.
 */
function groupByHeap(jobs: readonly Job[], bandAt: Uint8Array): HeapGroup[] {
  const groupOf = new Int32Array(jobs.length);
  const keyOf = new Float64Array(jobs.length);
  const sizes: number[] = [];
  const byTeam = new Map<string, number[]>();
  let lastTeam: string | undefined;
  let teamGroups: number[] = [];
  for (let position = 0; position < jobs.length; position++) {
    const job = jobs[position]!;
    if (job.team !== lastTeam) {
      lastTeam = job.team;
      let known = byTeam.get(job.team);
      if (known === undefined) {
        known = [];
        byTeam.set(job.team, known);
      }
      teamGroups = known;
    }
    const rank = CLASS_RANK[job.priorityClass];
    bandAt[position] = rank + 1;
    const slot = serviceLevel(job) * CLASS_COUNT + rank;
    let group = teamGroups[slot];
    if (group === undefined) {
      group = sizes.length;
      teamGroups[slot] = group;
      sizes.push(0);
    }
    sizes[group]!++;
    groupOf[position] = group;
    keyOf[position] = waitingSince(job);
  }
  const groups: HeapGroup[] = sizes.map((size) => ({
    positions: new Array<number>(size),
    keys: new Array<number>(size),
  }));
  const filled = new Array<number>(groups.length).fill(0);
  for (let position = 0; position < jobs.length; position++) {
    const group = groupOf[position]!;
    const { positions, keys } = groups[group]!;
    const at = filled[group]!++;
    positions[at] = position;
    keys[at] = keyOf[position]!;
  }
  return groups;
}
