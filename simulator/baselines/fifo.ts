import type { ClusterState } from '../../scheduler/model';
import type { Decision, PolicySession, SchedulingPolicy } from '../../scheduler/policy';
import { QueueOrderSession } from './queue-order';

/** First in, first out, with EASY backfill (see `QueueOrderSession`); no preemption. */
export class FifoPolicy implements SchedulingPolicy {
  readonly name = 'fifo';

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new QueueOrderSession(state, (job) => job.submitTime);
  }
}
