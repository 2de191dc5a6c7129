import type { ClusterCapacity } from '../../scheduler/capacity';
import { ClusterBook } from '../../scheduler/cluster-book';
import { reserveEarliest, respectsReservation } from '../../scheduler/drivetrain/reservation';
import { JobQueue } from '../../scheduler/job-queue';
import type { ClusterState, Job, Placement, RunningJob } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PendingReason,
  PolicySession,
  Reservation,
  RoundOptions,
  StartJob,
  WaitingJob,
} from '../../scheduler/policy';

export const HEAD_BLOCKED: PendingReason = {
  code: 'capacity',
  message: 'at the head of its queue, waiting for room in a pool it may use',
};
export const BEHIND_HEAD: PendingReason = {
  code: 'priority',
  message: 'queued behind a job that is waiting for capacity',
};

/**
 * How deep a round looks past a blocked head: Slurm's default bf_max_job_test (500), the
 * depth a backfilling scheduler a user would pick really scans.
 */
export const BACKFILL_DEPTH = 500;

/**
 * One queue in `key` order with EASY backfill (Lifka 1995; the sched/backfill idea): jobs
 * start in order; the first that does not fit holds the nodes it can have earliest, judged
 * by the declared max runtimes of running jobs; later jobs start if they fit now and leave
 * those nodes before the hold begins. No preemption.
 */
export class QueueOrderSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly queue: JobQueue;

  constructor(state: ClusterState, key: (job: Job) => number) {
    this.book = new ClusterBook(state);
    this.queue = new JobQueue(key);
    for (const job of state.pending) this.queue.add(job);
  }

  submit(job: Job): void {
    this.queue.add(job);
  }

  withdraw(jobId: string): void {
    this.queue.withdraw(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const capacity = this.book.capacity();
    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    const backfill = new BackfillScan(capacity, this.book.running(), now);
    const passed: Job[] = [];
    for (let scanned = 0; scanned < BACKFILL_DEPTH && capacity.hasRoom(); scanned++) {
      const job = this.queue.pop();
      if (job === undefined) break;
      const placement = backfill.tryPlace(job);
      if (placement === undefined) {
        passed.push(job);
        continue;
      }
      starts.push({ jobId: job.id, placement });
      started.set(job.id, job);
    }
    for (const job of passed) this.queue.add(job);
    const head = this.queue.peek();
    const waiting: WaitingJob[] =
      options.explain === false
        ? []
        : [...this.queue.all()].map((job) => ({
            jobId: job.id,
            reason: job === head ? HEAD_BLOCKED : BEHIND_HEAD,
          }));
    const decision = {
      starts,
      preemptions: [],
      waiting,
      usage: this.book.usage,
      ...(backfill.hold && { reservation: backfill.hold }),
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }
}

/**
 * One round's EASY backfill over jobs offered in priority order: places a job now if it can
 * go without delaying the hold, else (for the first such job) takes the hold. Shapes that
 * failed stay failed within the round, since starts only take capacity away.
 */
export class BackfillScan {
  hold: Reservation | undefined;
  private readonly runningByPool = new Map<string, RunningJob[]>();
  private readonly failed = new Set<string>();

  constructor(
    private readonly capacity: ClusterCapacity,
    running: readonly RunningJob[],
    private readonly now: number,
  ) {
    for (const run of running) this.runningIn(run.placement.poolId).push(run);
  }

  tryPlace(job: Job): Placement | undefined {
    const { gpus, nodes, cpus, memoryMiB, gpuType } = job.resources;
    const runtime = this.hold === undefined ? '' : job.maxRuntimeS;
    const shape = `${job.priorityClass}|${job.preemptible}|${gpuType}|${gpus}|${nodes}|${cpus}|${memoryMiB}|${runtime}`;
    if (this.failed.has(shape)) return undefined;
    const pools = eligiblePools(job, this.capacity);
    const { hold, now } = this;
    const usable =
      hold &&
      ((pool: { pool: { id: string } }, node: number) =>
        respectsReservation(hold, pool.pool.id, node, job, now));
    const placement = place(job, pools, usable);
    if (placement === undefined) {
      this.failed.add(shape);
      this.hold ??= reserveEarliest(job, pools, (poolId) => this.runningIn(poolId), now);
      return undefined;
    }
    this.capacity.allocate(job.resources, placement);
    this.runningIn(placement.poolId).push({ job, placement, startedAt: now, lastCheckpointAt: now });
    return placement;
  }

  private runningIn(poolId: string): RunningJob[] {
    let running = this.runningByPool.get(poolId);
    if (running === undefined) {
      running = [];
      this.runningByPool.set(poolId, running);
    }
    return running;
  }
}
