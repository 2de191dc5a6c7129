import { KeyedHeap } from '../keyed-heap';
import type { Job } from '../model';
import { PRIORITY_CLASSES, type PriorityClassName } from '../priority-classes';

/** Classes from lowest to highest value; a job's band starts at its class's index here. */
const CLASSES_ASCENDING = (Object.keys(PRIORITY_CLASSES) as PriorityClassName[]).sort(
  (a, b) => PRIORITY_CLASSES[a].value - PRIORITY_CLASSES[b].value,
);
export const TOP_BAND = CLASSES_ASCENDING.length - 1;

// Keys pack (service level, submit time) into one exact double: epoch seconds < 1e10.
const LEVEL_STRIDE = 1e10;
const GPU_HOUR = 3600;

/** Seconds the job has spent waiting, over all its attempts: its age minus its run time. */
export function waitedS(job: Job, now: number): number {
  const ranS = job.attainedGpuS / Math.max(1, job.resources.gpus);
  return Math.max(0, now - job.submitTime - ranS);
}

/**
 * Strict classes with aging: a job climbs one band per `agingStepS` of waiting, so a
 * preemptible job outranks fresh standard work after one step and nothing waits for ever.
 * Aging changes the order only; the right to preempt stays with the job's own class.
 */
export function bandOf(job: Job, now: number, agingStepS: number): number {
  const base = CLASSES_ASCENDING.indexOf(job.priorityClass);
  return Math.min(TOP_BAND, base + Math.floor(waitedS(job, now) / agingStepS));
}

/**
 * Least attained service first (Tiresias, NSDI'19), in doubling levels of GPU-hours: a job
 * that already had its turn and was preempted queues behind fresh work. Levels, not exact
 * values, keep the order FIFO among similar jobs and need no runtime estimate.
 */
export function serviceLevel(job: Job): number {
  return Math.floor(Math.log2(1 + job.attainedGpuS / GPU_HOUR));
}

export function withinTeamKey(job: Job): number {
  return serviceLevel(job) * LEVEL_STRIDE + job.submitTime;
}

/** Pending jobs split by band and team; each queue pops in `withinTeamKey` order. */
export class PendingQueues {
  private readonly bands: Map<string, KeyedHeap<Job>>[];

  constructor(pending: readonly Job[], now: number, agingStepS: number) {
    const grouped = CLASSES_ASCENDING.map(() => new Map<string, { jobs: Job[]; keys: number[] }>());
    for (const job of pending) {
      const band = grouped[bandOf(job, now, agingStepS)]!;
      let queue = band.get(job.team);
      if (queue === undefined) {
        queue = { jobs: [], keys: [] };
        band.set(job.team, queue);
      }
      queue.jobs.push(job);
      queue.keys.push(withinTeamKey(job));
    }
    this.bands = grouped.map(
      (band) => new Map([...band].map(([team, { jobs, keys }]) => [team, KeyedHeap.of(jobs, keys)])),
    );
  }

  /** Band indices, highest first. */
  bandsFromTop(): number[] {
    return this.bands.map((_, band) => band).reverse();
  }

  queuesIn(band: number): ReadonlyMap<string, KeyedHeap<Job>> {
    return this.bands[band] ?? new Map();
  }
}
