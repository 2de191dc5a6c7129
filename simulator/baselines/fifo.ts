import type { ClusterState } from '../../scheduler/model';
import type { Decision, SchedulingPolicy } from '../../scheduler/policy';
import { startInOrder } from './queue-order';

/** First in, first out, no backfill: a job starts only once everything older has. */
export class FifoPolicy implements SchedulingPolicy {
  readonly name = 'fifo';

  decide(state: ClusterState): Decision {
    return startInOrder(state, (job) => job.submitTime);
  }
}
