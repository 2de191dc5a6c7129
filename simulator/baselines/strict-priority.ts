import { classOf, type ClusterState } from '../../scheduler/model';
import type { Decision, SchedulingPolicy } from '../../scheduler/policy';
import { startInOrder } from './queue-order';

// Submit times are epoch seconds (< 1e10), so class and submit time pack into one key.
const CLASS_STRIDE = 1e10;

/** Highest class first, FIFO within a class, no backfill, no preemption. */
export class StrictPriorityPolicy implements SchedulingPolicy {
  readonly name = 'strict-priority';

  decide(state: ClusterState): Decision {
    return startInOrder(state, (job) => -classOf(job).value * CLASS_STRIDE + job.submitTime);
  }
}
