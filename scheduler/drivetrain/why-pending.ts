import type { Job } from '../model';
import type { PendingCode, PendingReason, Reservation } from '../policy';
import type { QuotaLedger } from './quota';

/**
 * Builds why-pending reasons. A round can leave 100,000 jobs pending, so reasons are shared
 * between jobs in the same situation instead of formatted per job.
 */
export class WhyPending {
  private readonly quotaReasons = new SharedReasons<string, string>('quota');
  private readonly capacityReasons = new SharedReasons<string, number>('capacity');
  private readonly priorityReasons = new SharedReasons<string, null>('priority');
  private readonly gangReasons = new SharedReasons<string, null>('gang-reservation');
  private readonly blockedReasons = new SharedReasons<null, null>('blocked-by-higher-class');
  private readonly unschedulableReasons = new SharedReasons<string, number>('unschedulable');

  constructor(private readonly quota: QuotaLedger) {}

  quotaExhausted(job: Job): PendingReason {
    const { team } = job;
    const { gpuType } = job.resources;
    return this.quotaReasons.get(team, gpuType, () => {
      const held = this.quota.gpusHeld(team, gpuType);
      const quota = this.quota.quota(team, gpuType);
      return `team ${team} holds ${held} of its ${quota} nominal ${gpuType} GPUs and no idle capacity is left to borrow`;
    });
  }

  noCapacity(job: Job): PendingReason {
    const { gpus, gpuType, cpus } = job.resources;
    const detail = (gpus > 0 ? gpus : cpus) * 2 + (job.preemptible ? 1 : 0);
    return this.capacityReasons.get(gpuType, detail, () => {
      return `no pool the job may use has ${shapeOf(job)} free, and nothing there may be preempted for it`;
    });
  }

  outranked(job: Job): PendingReason {
    const { gpuType } = job.resources;
    return this.priorityReasons.get(gpuType, null, () => {
      return `free ${gpuType} capacity went to jobs ahead of it in fair-share order this round`;
    });
  }

  heldForGang(reservation: Reservation): PendingReason {
    return this.gangReasons.get(reservation.jobId, null, () => {
      const until = new Date(reservation.untilS * 1000).toISOString();
      return `the free nodes are held for job ${reservation.jobId} from ${until}, and this job could run past that`;
    });
  }

  behindHigherClass(): PendingReason {
    return this.blockedReasons.get(
      null,
      null,
      () => 'a job of a higher (or aged) class is waiting for capacity',
    );
  }

  unschedulable(job: Job): PendingReason {
    const { gpus, gpuType, nodes, cpus } = job.resources;
    return this.unschedulableReasons.get(`${gpuType}|${nodes}|${job.preemptible}`, gpus || cpus, () => {
      return `no pool the job may use can hold ${shapeOf(job)}, even when empty`;
    });
  }
}

/** What the job asks for, in words: GPUs for GPU work, vCPUs and memory for CPU-only work. */
function shapeOf(job: Job): string {
  const { gpus, gpuType, nodes, cpus, memoryMiB } = job.resources;
  const what =
    gpus > 0 ? `${gpus} ${gpuType} GPUs` : `${cpus} vCPUs and ${Math.ceil(memoryMiB / 1024)} GiB of memory`;
  return nodes > 1 ? `${what} over ${nodes} nodes` : what;
}

/**
 * The reasons of one code, by situation. Two keys, nested, so that no key string is built
 * per job; the message is formatted once, for the first job in the situation.
 */
class SharedReasons<Where, Detail> {
  private readonly byWhere = new Map<Where, Map<Detail, PendingReason>>();

  constructor(private readonly code: PendingCode) {}

  get(where: Where, detail: Detail, message: () => string): PendingReason {
    let byDetail = this.byWhere.get(where);
    if (byDetail === undefined) {
      byDetail = new Map();
      this.byWhere.set(where, byDetail);
    }
    let reason = byDetail.get(detail);
    if (reason === undefined) {
      reason = { code: this.code, message: message() };
      byDetail.set(detail, reason);
    }
    return reason;
  }
}
