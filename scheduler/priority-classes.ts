/**
 * Priority classes: the one definition shared by the scheduler policy, the job API,
 * the CDK job queues (Batch scheduling priority) and the per-environment team config.
 */
export interface PriorityClass {
  /** Higher runs first. Also used as the Batch schedulingPriority of the class's jobs. */
  readonly value: number;
  /** Jobs of this class may be stopped to make room for a higher class. */
  readonly preemptible: boolean;
  /** Jobs of this class may preempt preemptible or borrowed work. */
  readonly mayPreempt: boolean;
}

export const PRIORITY_CLASSES = {
  /**
   * Release-blocking runs, safety evaluation: on-demand only, never preempted for another
   * class. Critical work beyond its team's nominal quota runs on borrowed capacity, which
   * the lending team reclaims when it needs it, as from any other class.
   */
  critical: { value: 1000, preemptible: false, mayPreempt: true },
  /** Normal training runs. */
  standard: { value: 500, preemptible: false, mayPreempt: true },
  /** Sweeps, exploration, backfills: cheap spot capacity, checkpoint and get preempted. */
  preemptible: { value: 100, preemptible: true, mayPreempt: false },
} as const satisfies Record<string, PriorityClass>;

export type PriorityClassName = keyof typeof PRIORITY_CLASSES;

/**
 * Capacity each class may run on, best first: the scheduler's placement rule and the queue
 * plan (config/queues.ts) say the same. Release-blocking work never goes where a spot
 * reclaim can kill it; standard work may use idle spot nodes when on-demand is full (a spot
 * interruption requeues it like any interruption); preemptible work checkpoints anyway, so
 * it goes where capacity is cheapest. A job of another class that opts in to preemption
 * is placed as preemptible work.
 */
export const CAPACITY_PREFERENCE: Record<PriorityClassName, readonly ('on-demand' | 'spot')[]> = {
  critical: ['on-demand'],
  standard: ['on-demand', 'spot'],
  preemptible: ['spot', 'on-demand'],
};

export const PRIORITY_CLASS_NAMES = Object.keys(PRIORITY_CLASSES) as PriorityClassName[];

export function isPriorityClassName(name: string): name is PriorityClassName {
  return Object.hasOwn(PRIORITY_CLASSES, name);
}
