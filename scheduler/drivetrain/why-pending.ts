import type { Job } from '../model';
import type { PendingCode, PendingReason, Reservation } from '../policy';
import type { QuotaLedger } from './quota';

/**
 * Builds why-pending reasons. A round can leave 100,000 jobs pending, so reasons are shared
 * between jobs in the same situation instead of formatted per job.
 */
export class WhyPending {
  /** code → situation → reason; nested so no key string is built per job. */
  private readonly cache = new Map<PendingCode, Map<string, PendingReason>>();

  constructor(private readonly quota: QuotaLedger) {}

  quotaExhausted(job: Job): PendingReason {
    const { team } = job;
    const { gpuType } = job.resources;
    return this.shared('quota', team, gpuType, () => {
      const held = this.quota.gpusHeld(team, gpuType);
      const quota = this.quota.quota(team, gpuType);
      return `team ${team} holds ${held} of its ${quota} nominal ${gpuType} GPUs and no idle capacity is left to borrow`;
    });
  }

  noCapacity(job: Job): PendingReason {
    const { gpus, gpuType, nodes } = job.resources;
    return this.shared('capacity', gpuType, gpus * 2 + (job.preemptible ? 1 : 0), () => {
      const shape = nodes > 1 ? `${gpus} ${gpuType} GPUs over ${nodes} nodes` : `${gpus} ${gpuType} GPUs`;
      return `no pool the job may use has ${shape} free, and nothing there may be preempted for it`;
    });
  }

  outranked(job: Job): PendingReason {
    return this.shared('priority', job.resources.gpuType, 0, () => {
      return `free ${job.resources.gpuType} capacity went to jobs ahead of it in fair-share order this round`;
    });
  }

  heldForGang(reservation: Reservation): PendingReason {
    return this.shared('gang-reservation', reservation.jobId, 0, () => {
      const until = new Date(reservation.untilS * 1000).toISOString();
      return `the free nodes are held for job ${reservation.jobId} from ${until}, and this job could run past that`;
    });
  }

  behindHigherClass(): PendingReason {
    return this.shared(
      'blocked-by-higher-class',
      '',
      0,
      () => 'a job of a higher (or aged) class is waiting for capacity',
    );
  }

  unschedulable(job: Job): PendingReason {
    const { gpus, gpuType, nodes } = job.resources;
    return this.shared('unschedulable', `${gpuType}|${nodes}|${job.preemptible}`, gpus, () => {
      return `no ${gpuType} pool the job may use can hold ${gpus} GPUs over ${nodes} node(s), even when empty`;
    });
  }

  private shared(
    code: PendingCode,
    where: string,
    detail: string | number,
    message: () => string,
  ): PendingReason {
    let byWhere = this.cache.get(code);
    if (byWhere === undefined) {
      byWhere = new Map();
      this.cache.set(code, byWhere);
    }
    const key = typeof detail === 'number' && detail === 0 ? where : `${where}|${detail}`;
    let reason = byWhere.get(key);
    if (reason === undefined) {
      reason = { code, message: message() };
      byWhere.set(key, reason);
    }
    return reason;
  }
}
