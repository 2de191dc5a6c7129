import { PRIORITY_CLASSES, type PriorityClassName } from '../scheduler/priority-classes';
import type { CapacityType, EnvironmentConfig } from './schema';

/**
 * The AWS Batch queue layout, derived from config so that the Compute stack that creates
 * the queues and the dispatcher that submits to them agree on names without a lookup.
 */

/** Capacity each class runs on, in order of preference; Batch overflows down the list. */
export const CAPACITY_PREFERENCE: Record<PriorityClassName, readonly CapacityType[]> = {
  // Release-blocking work is never put where a spot reclaim can kill it.
  critical: ['on-demand'],
  standard: ['on-demand', 'spot'],
  // Preemptible work checkpoints anyway, so it goes where capacity is cheapest.
  preemptible: ['spot', 'on-demand'],
};

export type QueueCapacity = CapacityType | 'multi-node';

export interface QueuePlan {
  readonly name: string;
  /** GPU fleet name, or `cpu` for the CPU fleet. */
  readonly fleet: string;
  readonly priorityClass: PriorityClassName;
  readonly capacity: QueueCapacity;
  /** Compute environments in the order Batch tries them. */
  readonly computeEnvironments: readonly QueueCapacity[];
  /** Batch queue priority: higher-class queues are scheduled first. */
  readonly priority: number;
}

export function queueName(
  env: string,
  fleet: string,
  priorityClass: string,
  capacity: QueueCapacity,
): string {
  return `drivetrain-${env}-${fleet}-${priorityClass}-${capacity}`;
}

interface FleetCapacity {
  readonly name: string;
  readonly onDemandMaxVcpus: number;
  readonly spotMaxVcpus: number;
  readonly multiNode: boolean;
}

function fleetsOf(config: EnvironmentConfig): FleetCapacity[] {
  return [
    ...config.gpuFleets.map((f) => ({
      name: f.name,
      onDemandMaxVcpus: f.onDemandMaxVcpus,
      spotMaxVcpus: f.spotMaxVcpus,
      multiNode: f.multiNode !== undefined,
    })),
    { name: 'cpu', ...config.cpuFleet, multiNode: false },
  ];
}

/**
 * One queue per fleet × priority class × capacity type the class may use. Each queue tries
 * its own capacity type first and then the class's next preference, so the scheduler's
 * placement is honoured while Batch can still overflow when a compute environment is full.
 */
export function planQueues(config: EnvironmentConfig): QueuePlan[] {
  const plans: QueuePlan[] = [];
  for (const fleet of fleetsOf(config)) {
    const available = (c: CapacityType) => (c === 'spot' ? fleet.spotMaxVcpus : fleet.onDemandMaxVcpus) > 0;
    for (const [priorityClass, preference] of Object.entries(CAPACITY_PREFERENCE) as [
      PriorityClassName,
      readonly CapacityType[],
    ][]) {
      const usable = preference.filter(available);
      for (const capacity of usable) {
        plans.push({
          name: queueName(config.name, fleet.name, priorityClass, capacity),
          fleet: fleet.name,
          priorityClass,
          capacity,
          computeEnvironments: [capacity, ...usable.filter((c) => c !== capacity)],
          priority: PRIORITY_CLASSES[priorityClass].value,
        });
      }
      if (fleet.multiNode) {
        plans.push({
          name: queueName(config.name, fleet.name, priorityClass, 'multi-node'),
          fleet: fleet.name,
          priorityClass,
          capacity: 'multi-node',
          computeEnvironments: ['multi-node'],
          priority: PRIORITY_CLASSES[priorityClass].value,
        });
      }
    }
  }
  return plans;
}

/** The queue a class uses when the scheduler leaves placement to Batch. */
export function defaultQueue(plans: readonly QueuePlan[], fleet: string, priorityClass: PriorityClassName) {
  const first = CAPACITY_PREFERENCE[priorityClass].map((capacity) =>
    plans.find((p) => p.fleet === fleet && p.priorityClass === priorityClass && p.capacity === capacity),
  );
  return first.find((p) => p !== undefined);
}
