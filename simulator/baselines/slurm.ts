import type { ClusterCapacity } from '../../scheduler/capacity';
import { ClusterBook } from '../../scheduler/cluster-book';
import {
  type ClusterState,
  classOf,
  type Job,
  type Placement,
  type RunningJob,
  type Team,
} from '../../scheduler/model';
import { eligiblePools, place } from '../../scheduler/placement';
import type {
  Decision,
  PolicySession,
  RoundOptions,
  SchedulingPolicy,
  StartJob,
} from '../../scheduler/policy';
import { PRIORITY_CLASSES } from '../../scheduler/priority-classes';
import { DecayedUsage } from '../../scheduler/usage';
import { GpuProfile } from './gpu-profile';
import { BEHIND_HEAD, shapeOf } from './queue-order';

const MINUTE = 60;
const DAY = 86_400;

/**
 * The slurm.conf settings the model reads. Sources: slurm.conf(5) and
 * https://slurm.schedmd.com/priority_multifactor.html (priority), and
 * https://slurm.schedmd.com/sched_config.html (main and backfill scheduler).
 */
export interface SlurmConfig {
  /** PriorityWeight{Age,Fairshare,JobSize,QOS}. */
  readonly weights: {
    readonly age: number;
    readonly fairshare: number;
    readonly jobSize: number;
    readonly qos: number;
  };
  /** PriorityMaxAge: the age factor reaches 1 after this long pending. */
  readonly priorityMaxAgeS: number;
  /** PriorityDecayHalfLife of recorded usage. */
  readonly priorityDecayHalfLifeS: number;
  /** PriorityCalcPeriod: how often priorities are recalculated (and the queue re-sorted). */
  readonly priorityCalcPeriodS: number;
  /** default_queue_depth: jobs the main scheduler tries on each event. */
  readonly defaultQueueDepth: number;
  /** bf_interval, bf_window, bf_max_job_test, bf_resolution. */
  readonly backfill: {
    readonly intervalS: number;
    readonly windowS: number;
    readonly maxJobTest: number;
    readonly resolutionS: number;
  };
}

/**
 * slurm.conf defaults where Slurm has one: PriorityMaxAge=7-0, PriorityDecayHalfLife=7-0,
 * PriorityCalcPeriod=5 (minutes), default_queue_depth=100, bf_interval=30, bf_window=1440 (minutes), bf_max_job_test=500,
 * bf_resolution=60. Every PriorityWeight* defaults to 0, which is FIFO; the weights here are
 * those of the configuration example in the multifactor documentation (age 1000,
 * fair-share 10000, job size 1000), plus a QOS weight above them all so the priority classes
 * are strict, as a site maps release-blocking work to a high-priority QOS.
 * PriorityFavorSmall=NO (default): bigger jobs get a bigger size factor.
 * PreemptType=preempt/none (default): nothing is preempted.
 */
export const DEFAULT_SLURM_CONFIG: SlurmConfig = {
  weights: { age: 1000, fairshare: 10_000, jobSize: 1000, qos: 100_000 },
  priorityMaxAgeS: 7 * DAY,
  priorityDecayHalfLifeS: 7 * DAY,
  priorityCalcPeriodS: 5 * MINUTE,
  defaultQueueDepth: 100,
  backfill: { intervalS: 30, windowS: 1440 * MINUTE, maxJobTest: 500, resolutionS: 60 },
};

/**
 * Slurm with priority/multifactor and sched/backfill, as it behaves:
 * - priority = Σ weight × factor, factors in [0, 1]: age (pending time / PriorityMaxAge,
 *   capped), fair-share (Fair Tree, the default algorithm: accounts ranked by LevelFS =
 *   shares / decayed usage share, factor = rank / accounts), job size (GPUs / cluster GPUs),
 *   QOS (class value / top class value);
 * - on every event the main scheduler starts jobs in priority order and stops at the first
 *   that does not fit (one partition);
 * - every bf_interval the backfill scheduler walks the top bf_max_job_test jobs, starts any
 *   that fit now without delaying a higher job's planned start, and plans a start for each
 *   one that does not (if within bf_window), with the users' time limits as run times;
 * - usage is CPU-seconds (TRESBillingWeights default: CPU), decayed by the half-life.
 * The plan is kept in GPUs per pool (Slurm keeps node bitmaps per time slot); starting now
 * is checked node by node, gangs on all their nodes at once.
 */
export class SlurmPolicy implements SchedulingPolicy {
  readonly name = 'slurm';

  constructor(private readonly config: SlurmConfig = DEFAULT_SLURM_CONFIG) {}

  decide(state: ClusterState, now: number): Decision {
    return this.open(state).decide(now);
  }

  open(state: ClusterState): PolicySession {
    return new SlurmSession(state, this.config);
  }
}

class SlurmSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly decay: DecayedUsage;
  private readonly pending = new Map<string, Job>();
  private readonly clusterGpus: number;
  private readonly teams: readonly Team[];
  private lastBackfill = Number.NEGATIVE_INFINITY;
  private lastCalc = Number.NEGATIVE_INFINITY;
  private fairshare = new Map<string, number>();
  /**
   * The front of the queue as of the last priority calculation, highest first; jobs that
   * started since are skipped. New jobs get their priority at submit and join it in place.
   */
  private front: { job: Job; priority: number }[] = [];
  /** Priorities are as of this instant (PriorityCalcPeriod). */
  private calcAt = 0;

  constructor(
    state: ClusterState,
    private readonly config: SlurmConfig,
  ) {
    this.book = new ClusterBook(state);
    this.decay = new DecayedUsage(config.priorityDecayHalfLifeS);
    this.teams = state.teams;
    this.clusterGpus = state.pools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
    for (const job of state.pending) this.pending.set(job.id, job);
  }

  submit(job: Job): void {
    if (this.pending.has(job.id)) throw new Error(`job ${job.id} is already pending`);
    this.pending.set(job.id, job);
    // Slurm sets a job's priority when it is submitted; it joins the sorted front if it ranks there.
    const priority = this.priorityOf(job, this.calcAt);
    const last = this.front[this.front.length - 1];
    if (last !== undefined && priority <= last.priority && this.front.length >= this.frontSize()) return;
    let at = this.front.length;
    while (at > 0 && this.front[at - 1]!.priority < priority) at--;
    this.front.splice(at, 0, { job, priority });
  }

  withdraw(jobId: string): void {
    this.pending.delete(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const running = this.book.running();
    const usage = this.decay.advance(this.book.usage, running, now);
    const live = () => this.front.filter((entry) => this.pending.has(entry.job.id));
    this.front = live();
    if (now - this.lastCalc >= this.config.priorityCalcPeriodS || this.front.length < this.frontSize() / 2) {
      this.lastCalc = now;
      this.calcAt = now;
      this.fairshare = fairTreeFactors(this.teams, usage.byTeam);
      this.front = topByPriority(
        [...this.pending.values()],
        (job) => this.priorityOf(job, now),
        this.frontSize(),
      );
    }
    const capacity = this.book.capacity();
    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    const start = (job: Job, placement: Placement) => {
      capacity.allocate(job.resources, placement);
      starts.push({ jobId: job.id, placement });
      started.set(job.id, job);
      this.pending.delete(job.id);
    };

    // Main scheduler: strict priority order, stop at the first job that does not fit.
    for (const { job } of this.front.slice(0, this.config.defaultQueueDepth)) {
      if (!capacity.hasRoom()) break;
      const placement = place(job, eligiblePools(job, capacity));
      if (placement === undefined) break;
      start(job, placement);
    }

    const { backfill } = this.config;
    if (now - this.lastBackfill >= backfill.intervalS && capacity.hasRoom()) {
      this.lastBackfill = now;
      this.backfill(
        now,
        capacity,
        [
          ...running,
          ...starts.map((s) => ({ job: started.get(s.jobId)!, placement: s.placement, startedAt: now })),
        ],
        start,
      );
    }

    const decision = {
      starts,
      preemptions: [],
      waiting:
        options.explain === false
          ? []
          : [...this.pending.keys()].map((jobId) => ({ jobId, reason: BEHIND_HEAD })),
      usage,
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }

  /**
   * One backfill pass over the top bf_max_job_test jobs: each starts now if it fits without
   * delaying a planned start above it, else gets the earliest planned start within bf_window.
   */
  private backfill(
    now: number,
    capacity: ClusterCapacity,
    running: readonly Pick<RunningJob, 'job' | 'placement' | 'startedAt'>[],
    start: (job: Job, placement: Placement) => void,
  ): void {
    const { backfill } = this.config;
    const resolve = (t: number) => Math.ceil(t / backfill.resolutionS) * backfill.resolutionS;
    const profiles = new Map<string, GpuProfile>();
    for (const pool of capacity.pools) {
      const releases = running
        .filter((run) => run.placement.poolId === pool.pool.id)
        .map((run) => ({ at: resolve(run.startedAt + run.job.maxRuntimeS), gpus: run.job.resources.gpus }));
      profiles.set(pool.pool.id, new GpuProfile(now, pool.totalFreeGpus(), releases));
    }
    // A shape with no planned start in the window keeps none: plans only take room away.
    const hopeless = new Set<string>();
    for (const { job } of this.front.slice(0, backfill.maxJobTest)) {
      if (!this.pending.has(job.id)) continue;
      const shape = `${shapeOf(job)}|${job.maxRuntimeS}`;
      if (hopeless.has(shape)) continue;
      const runS = resolve(job.maxRuntimeS);
      const pools = eligiblePools(job, capacity);
      let placed = false;
      for (const pool of pools) {
        const profile = profiles.get(pool.pool.id)!;
        if (profile.minFree(now, now + runS) < job.resources.gpus) continue;
        const placement = place(job, [pool]);
        if (placement === undefined) continue;
        start(job, placement);
        profile.take(job.resources.gpus, now, now + runS);
        placed = true;
        break;
      }
      if (placed) continue;
      let best: { at: number; profile: GpuProfile } | undefined;
      for (const pool of pools) {
        if (!pool.couldEverHold(job.resources)) continue;
        const profile = profiles.get(pool.pool.id)!;
        const at = profile.earliest(job.resources.gpus, runS, now, now + backfill.windowS);
        if (at !== undefined && (best === undefined || at < best.at)) best = { at, profile };
      }
      if (best === undefined) hopeless.add(shape);
      else best.profile.take(job.resources.gpus, best.at, best.at + runS);
    }
  }

  private frontSize(): number {
    return Math.max(this.config.backfill.maxJobTest, this.config.defaultQueueDepth);
  }

  private priorityOf(job: Job, now: number): number {
    const { weights, priorityMaxAgeS } = this.config;
    const age = Math.min(1, Math.max(0, now - job.submitTime) / priorityMaxAgeS);
    const size = this.clusterGpus > 0 ? Math.min(1, job.resources.gpus / this.clusterGpus) : 0;
    return (
      weights.qos * (classOf(job).value / PRIORITY_CLASSES.critical.value) +
      weights.fairshare * (this.fairshare.get(job.team) ?? 1) +
      weights.jobSize * size +
      weights.age * age
    );
  }
}

/** The `count` jobs of highest priority, highest first (ties: earlier submit). */
function topByPriority(
  jobs: readonly Job[],
  priorityOf: (job: Job) => number,
  count: number,
): { job: Job; priority: number }[] {
  const scored = jobs.map((job) => ({ job, priority: priorityOf(job) }));
  const order = (a: (typeof scored)[number], b: (typeof scored)[number]) =>
    b.priority - a.priority || a.job.submitTime - b.job.submitTime;
  if (scored.length <= count) return scored.sort(order);
  // Keep a sorted front while one pass goes over the rest: cheap when count ≪ jobs.
  const front = scored.slice(0, count).sort(order);
  for (let i = count; i < scored.length; i++) {
    const candidate = scored[i]!;
    if (order(candidate, front[count - 1]!) >= 0) continue;
    let at = count - 1;
    while (at > 0 && order(candidate, front[at - 1]!) < 0) at--;
    front.splice(at, 0, candidate);
    front.pop();
  }
  return front;
}

/**
 * Fair Tree on a flat tree (one account per team): LevelFS = normalised shares / share of
 * the decayed usage; accounts ranked by LevelFS, highest first, and the fair-share factor is
 * rank / accounts, so the most under-served account gets 1. Equal LevelFS share a rank.
 */
export function fairTreeFactors(
  teams: readonly Team[],
  usage: Readonly<Record<string, { readonly cpus: number }>>,
): Map<string, number> {
  const totalShares = teams.reduce((sum, team) => sum + team.weight, 0);
  const totalUsage = teams.reduce((sum, team) => sum + (usage[team.id]?.cpus ?? 0), 0);
  const levelFs = teams.map((team) => {
    const used = totalUsage > 0 ? (usage[team.id]?.cpus ?? 0) / totalUsage : 0;
    const shares = team.weight / totalShares;
    return { team: team.id, value: used > 0 ? shares / used : Number.POSITIVE_INFINITY };
  });
  const factors = new Map<string, number>();
  for (const { team, value } of levelFs) {
    const above = levelFs.filter((other) => other.value > value).length;
    factors.set(team, (teams.length - above) / teams.length);
  }
  return factors;
}
