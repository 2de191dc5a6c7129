import type { Job } from '../model';
import type { PendingCode, PendingReason, Reservation } from '../policy';
import type { QuotaLedger } from './quota';

/**
 * Builds why-pending reasons. A round can leave 100,000 jobs pending, so reasons are shared
 * between jobs in the same situation instead of formatted per job.
 */
export class WhyPending {
  private readonly cache = new Map<string, PendingReason>();

  constructor(private readonly quota: QuotaLedger) {}

  quotaExhausted(job: Job): PendingReason {
    const { team } = job;
    const { gpuType } = job.resources;
    return this.shared('quota', `${team}|${gpuType}`, () => {
      const held = this.quota.gpusHeld(team, gpuType);
      const quota = this.quota.quota(team, gpuType);
      return `team ${team} holds ${held} of its ${quota} nominal ${gpuType} GPUs and no idle capacity is left to borrow`;
    });
  }

  noCapacity(job: Job): PendingReason {
    const { gpus, gpuType, nodes } = job.resources;
    return this.shared('capacity', `${gpuType}|${gpus}|${nodes}|${job.preemptible}`, () => {
      const shape = nodes > 1 ? `${gpus} ${gpuType} GPUs over ${nodes} nodes` : `${gpus} ${gpuType} GPUs`;
      return `no pool the job may use has ${shape} free, and nothing there may be preempted for it`;
    });
  }

  outranked(job: Job): PendingReason {
    return this.shared('priority', job.resources.gpuType, () => {
      return `free ${job.resources.gpuType} capacity went to jobs ahead of it in fair-share order this round`;
    });
  }

  heldForGang(reservation: Reservation): PendingReason {
    return this.shared('gang-reservation', reservation.jobId, () => {
      const until = new Date(reservation.untilS * 1000).toISOString();
      return `the free nodes are held for job ${reservation.jobId} from ${until}, and this job could run past that`;
    });
  }

  behindHigherClass(): PendingReason {
    return this.shared(
      'blocked-by-higher-class',
      '',
      () => 'a job of a higher (or aged) class is waiting for capacity',
    );
  }

  unschedulable(job: Job): PendingReason {
    const { gpus, gpuType, nodes } = job.resources;
    return this.shared('unschedulable', `${gpuType}|${gpus}|${nodes}|${job.preemptible}`, () => {
      return `no ${gpuType} pool the job may use can hold ${gpus} GPUs over ${nodes} node(s), even when empty`;
    });
  }

  private shared(code: PendingCode, situation: string, message: () => string): PendingReason {
    const key = `${code}|${situation}`;
    let reason = this.cache.get(key);
    if (reason === undefined) {
      reason = { code, message: message() };
      this.cache.set(key, reason);
    }
    return reason;
  }
}
