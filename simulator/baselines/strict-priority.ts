import { type ClusterState, classOf } from '../../scheduler/model';
import type { Decision, PolicySession, SchedulingPolicy } from '../../scheduler/policy';
import { QueueOrderSession } from './queue-order';

// Submit times are epoch seconds (< 1e10), so class and submit time pack into one key.
const CLASS_STRIDE = 1e10;

/** Highest class first, FIFO within a class, with EASY backfill; no preemption. */
export class StrictPriorityPolicy implements SchedulingPolicy {
  readonly name = 'strict-priority';

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new QueueOrderSession(state, (job) => -classOf(job).value * CLASS_STRIDE + job.submitTime);
  }
}
