import { ClusterBook } from '../../scheduler/cluster-book';
import { type ClusterState, classOf, type Job } from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PolicySession,
  RoundOptions,
  SchedulingPolicy,
  StartJob,
  WaitingJob,
} from '../../scheduler/policy';
import { DecayedUsage } from '../../scheduler/usage';
import { BEHIND_HEAD, HEAD_BLOCKED } from './queue-order';

/** The knobs of an AWS Batch fair-share scheduling policy (SchedulingPolicyDetail). */
export interface BatchFairshareConfig {
  /** Decay period of past usage; modelled as the half-life of exponential decay. */
  readonly shareDecaySeconds: number;
  /** Capacity held back for inactive shares: (computeReservation/100)^activeShares. */
  readonly computeReservation: number;
  /** Per share identifier; default 1, and lower gets more (0.125 gets eight times 1). */
  readonly weightFactors: Readonly<Record<string, number>>;
}

/**
 * Jobs of one share the scheduler looks at: Batch's front of queue is the first 100
 * RUNNABLE jobs (GetJobQueueSnapshot, FrontOfQueueDetail).
 */
const FRONT_OF_QUEUE = 100;

/**
 * A model of an AWS Batch fair-share job queue, which cannot run here, from its documentation
 * (https://docs.aws.amazon.com/batch/latest/userguide/fair-share-scheduling.html, the
 * FairsharePolicy and FrontOfQueueDetail API references, and "Diving deeper into fair-share
 * scheduling in AWS Batch", AWS HPC blog):
 * - each share identifier (team) queues its jobs by scheduling priority (the class value),
 *   then submit time;
 * - the share with the least usage × weightFactor dispatches next, where usage is vCPU-seconds
 *   of running and recently completed jobs, decayed over shareDecaySeconds (here, what a
 *   share holds now plus its decayed average, both in vCPUs);
 * - computeReservation keeps (computeReservation/100)^activeShares of the vCPUs for inactive
 *   shares;
 * - when a share's first job does not fit, Batch places a later, smaller one of the front of
 *   the queue that does; there are no reservations, so a large job waits until room happens
 *   to open;
 * - no preemption (Batch never stops a running job for another).
 */
export class BatchFairsharePolicy implements SchedulingPolicy {
  readonly name = 'batch-fairshare';

  constructor(private readonly config: BatchFairshareConfig) {}

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new BatchFairshareSession(state, this.config);
  }
}

/** One share's jobs of one scheduling priority, in submit order, with lazy removal. */
interface PriorityLane {
  readonly priority: number;
  readonly jobs: Job[];
  head: number;
}

class BatchFairshareSession implements PolicySession {
  private readonly book: ClusterBook;
  /** share → lanes, highest priority first. */
  private readonly shares = new Map<string, PriorityLane[]>();
  private readonly pendingIds = new Set<string>();
  private readonly decay: DecayedUsage;

  constructor(
    state: ClusterState,
    private readonly config: BatchFairshareConfig,
  ) {
    this.book = new ClusterBook(state);
    // Batch reads 0 as its minimum window of 600 s.
    this.decay = new DecayedUsage(config.shareDecaySeconds > 0 ? config.shareDecaySeconds : 600);
    for (const job of [...state.pending].sort((a, b) => a.submitTime - b.submitTime)) this.submit(job);
  }

  submit(job: Job): void {
    this.pendingIds.add(job.id);
    let lanes = this.shares.get(job.team);
    if (lanes === undefined) {
      lanes = [];
      this.shares.set(job.team, lanes);
    }
    const priority = classOf(job).value;
    let lane = lanes.find((candidate) => candidate.priority === priority);
    if (lane === undefined) {
      lane = { priority, jobs: [], head: 0 };
      lanes.push(lane);
      lanes.sort((a, b) => b.priority - a.priority);
    }
    lane.jobs.push(job);
  }

  withdraw(jobId: string): void {
    this.pendingIds.delete(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const running = this.book.running();
    const usage = this.decay.advance(this.book.usage, running, now);
    const capacity = this.book.capacity();
    const held = new Map<string, number>();
    for (const { job } of running) held.set(job.team, (held.get(job.team) ?? 0) + job.resources.cpus);
    const cap = this.usableVcpus(held);
    let inUse = [...held.values()].reduce((sum, cpus) => sum + cpus, 0);
    const standing = (share: string) =>
      (this.decay.averageAllocation(usage, share).cpus + (held.get(share) ?? 0)) *
      (this.config.weightFactors[share] ?? 1);

    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    // Starts only take capacity away, so a shape that did not fit stays unfit this round.
    const unfit = new Set<string>();
    const open = new Set([...this.shares.keys()].filter((share) => this.front(share).length > 0));
    while (open.size > 0) {
      const share = [...open].reduce((best, next) => {
        const diff = standing(next) - standing(best);
        return diff < 0 || (diff === 0 && next < best) ? next : best;
      });
      let chosen: { job: Job; placement: NonNullable<ReturnType<typeof place>> } | undefined;
      for (const job of this.front(share)) {
        if (inUse + job.resources.cpus > cap) continue;
        const shape = `${job.priorityClass}|${job.preemptible}|${job.resources.gpuType}|${job.resources.gpus}|${job.resources.nodes}|${job.resources.cpus}|${job.resources.memoryMiB}`;
        if (unfit.has(shape)) continue;
        const placement = place(job, eligiblePools(job, capacity));
        if (placement === undefined) {
          unfit.add(shape);
          continue;
        }
        chosen = { job, placement };
        break;
      }
      if (chosen === undefined) {
        open.delete(share);
        continue;
      }
      const { job, placement } = chosen;
      this.pendingIds.delete(job.id);
      capacity.allocate(job.resources, placement);
      inUse += job.resources.cpus;
      held.set(share, (held.get(share) ?? 0) + job.resources.cpus);
      starts.push({ jobId: job.id, placement });
      started.set(job.id, job);
    }
    const decision = {
      starts,
      preemptions: [],
      waiting: options.explain === false ? [] : this.explain(),
      usage,
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }

  /** The share's first FRONT_OF_QUEUE pending jobs, in the order Batch considers them. */
  private front(share: string): Job[] {
    const front: Job[] = [];
    for (const lane of this.shares.get(share) ?? []) {
      while (lane.head < lane.jobs.length && !this.pendingIds.has(lane.jobs[lane.head]!.id)) lane.head++;
      if (lane.head > 256 && lane.head * 2 > lane.jobs.length) {
        lane.jobs.splice(0, lane.head);
        lane.head = 0;
      }
      for (let i = lane.head; i < lane.jobs.length && front.length < FRONT_OF_QUEUE; i++) {
        const job = lane.jobs[i]!;
        if (this.pendingIds.has(job.id)) front.push(job);
      }
      if (front.length >= FRONT_OF_QUEUE) break;
    }
    return front;
  }

  /** vCPUs active shares may hold: computeReservation keeps the rest for inactive shares. */
  private usableVcpus(held: ReadonlyMap<string, number>): number {
    const total = this.book.pools.reduce((sum, pool) => sum + pool.node.cpus * pool.nodeCount, 0);
    if (this.config.computeReservation === 0) return total;
    const active = new Set([
      ...held.keys(),
      ...[...this.shares.keys()].filter((share) => this.front(share).length > 0),
    ]);
    const anyInactive = this.book.teams.some((team) => !active.has(team.id));
    return anyInactive ? total * (1 - (this.config.computeReservation / 100) ** active.size) : total;
  }

  private explain(): WaitingJob[] {
    const waiting: WaitingJob[] = [];
    for (const share of this.shares.keys()) {
      const [head, ...rest] = this.front(share);
      if (head !== undefined) waiting.push({ jobId: head.id, reason: HEAD_BLOCKED });
      for (const job of rest) waiting.push({ jobId: job.id, reason: BEHIND_HEAD });
    }
    const listed = new Set(waiting.map((w) => w.jobId));
    for (const jobId of this.pendingIds) if (!listed.has(jobId)) waiting.push({ jobId, reason: BEHIND_HEAD });
    return waiting;
  }
}
