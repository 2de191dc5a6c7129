import { type ClusterState, classOf } from '../../scheduler/model';
import type { Decision, PolicySession, SchedulingPolicy } from '../../scheduler/policy';
import { QueueOrderSession } from './queue-order';

/** Highest class first, FIFO within a class, with EASY backfill; no preemption. */
export class StrictPriorityPolicy implements SchedulingPolicy {
  readonly name = 'strict-priority';

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new QueueOrderSession(
      state,
      (job) => classOf(job).value,
      (job) => job.submitTime,
    );
  }
}
