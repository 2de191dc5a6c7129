import { type CapacityPool, capacityPools } from './capacity';
import type { CapacityType, EnvironmentConfig } from './schema';

/**
 * The AWS Batch queue layout, derived from the capacity model so that the Compute stack that
 * creates the queues and the Batch backend that submits to them agree on names without a
 * lookup. One queue per Batch pool, each in front of exactly one compute environment: a job
 * runs in the compute environment the scheduler placed it in and never spills into another
 * (standard work onto spot, preemptible work onto on-demand) behind the scheduler's back.
 */

export type QueueCapacity = CapacityType | 'multi-node';

export interface QueuePlan {
  readonly name: string;
  /** The scheduler pool this queue serves (`a10g-spot`, `a100-multi-node`). */
  readonly pool: string;
  /** GPU fleet name, or `cpu` for the CPU fleet. */
  readonly fleet: string;
  /** The one compute environment of the fleet behind the queue. */
  readonly capacity: QueueCapacity;
}

/** AWS Batch's default job-queue quota per account and region. */
export const BATCH_JOB_QUEUE_QUOTA = 50;

/** `drivetrain-<env>-<pool>`: within Batch's 128 characters for every valid pool id. */
export function queueName(env: string, pool: string): string {
  return `drivetrain-${env}-${pool}`;
}

function capacityOf(pool: CapacityPool): QueueCapacity {
  return pool.jobShapes === 'multi-node' ? 'multi-node' : pool.capacityType;
}

export function planQueues(config: EnvironmentConfig): QueuePlan[] {
  return capacityPools(config)
    .filter((pool) => pool.backend === 'batch')
    .map((pool) => ({
      name: queueName(config.name, pool.id),
      pool: pool.id,
      fleet: pool.fleet,
      capacity: capacityOf(pool),
    }));
}
