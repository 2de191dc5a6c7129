import { ClusterBook } from '../../scheduler/cluster-book';
import { KeyedHeap } from '../../scheduler/keyed-heap';
import { type ClusterState, classOf, type Job, type Placement, type Team } from '../../scheduler/model';
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
import { BEHIND_HEAD } from './queue-order';

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
 * default_queue_depth=100, bf_interval=30, bf_window=1440 (minutes), bf_max_job_test=500,
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

interface Entry {
  readonly job: Job;
  pending: boolean;
  /** Pending longer than PriorityMaxAge: its age factor is 1 and it lives in `capped`. */
  capped: boolean;
}

/** A team's jobs of one class: the same fair-share and QOS factors, so order is fixed by key. */
class Group {
  /** Keyed so that the lowest key is the highest age + size priority while the age grows. */
  readonly young = KeyedHeap.empty<Entry>();
  /** Age factor 1: ordered by size, then submit time. */
  readonly capped = KeyedHeap.empty<Entry>();
  readonly arrivals: Entry[] = [];
  next = 0;

  constructor(
    readonly team: string,
    readonly qosFactor: number,
  ) {}
}

class SlurmSession implements PolicySession {
  private readonly book: ClusterBook;
  private readonly decay: DecayedUsage;
  private readonly groups = new Map<string, Group>();
  private readonly entries = new Map<string, Entry>();
  private readonly clusterGpus: number;
  private readonly teams: readonly Team[];
  private lastBackfill = Number.NEGATIVE_INFINITY;
  private fairshare = new Map<string, number>();

  constructor(
    state: ClusterState,
    private readonly config: SlurmConfig,
  ) {
    this.book = new ClusterBook(state);
    this.decay = new DecayedUsage(config.priorityDecayHalfLifeS);
    this.teams = state.teams;
    this.clusterGpus = state.pools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
    for (const job of [...state.pending].sort((a, b) => a.submitTime - b.submitTime)) this.submit(job);
  }

  submit(job: Job): void {
    if (this.entries.has(job.id)) throw new Error(`job ${job.id} is already pending`);
    const entry: Entry = { job, pending: true, capped: false };
    this.entries.set(job.id, entry);
    const group = this.groupOf(job);
    group.arrivals.push(entry);
    group.young.push(entry, this.youngKey(job));
  }

  withdraw(jobId: string): void {
    const entry = this.entries.get(jobId);
    if (entry !== undefined) entry.pending = false;
    this.entries.delete(jobId);
  }

  finish(jobId: string): void {
    this.book.finish(jobId);
  }

  checkpointed(): void {}

  decide(now: number, options: RoundOptions = {}): Decision {
    const running = this.book.running();
    const usage = this.decay.advance(this.book.usage, running, now);
    this.fairshare = fairTreeFactors(this.teams, usage.byTeam);
    this.ageOut(now);
    const capacity = this.book.capacity();
    const started = new Map<string, Job>();
    const starts: StartJob[] = [];
    const start = (job: Job, placement: Placement) => {
      capacity.allocate(job.resources, placement);
      starts.push({ jobId: job.id, placement });
      started.set(job.id, job);
      this.take(job.id);
    };

    // Main scheduler: strict priority order, stop at the first job that does not fit.
    const tried: Entry[] = [];
    for (let depth = 0; depth < this.config.defaultQueueDepth && capacity.hasRoom(); depth++) {
      const entry = this.popHighest(now);
      if (entry === undefined) break;
      tried.push(entry);
      const placement = place(entry.job, eligiblePools(entry.job, capacity));
      if (placement === undefined) break;
      start(entry.job, placement);
    }
    this.putBack(tried, now);

    const { backfill } = this.config;
    if (now - this.lastBackfill >= backfill.intervalS && capacity.hasRoom()) {
      this.lastBackfill = now;
      const resolve = (t: number) => Math.ceil(t / backfill.resolutionS) * backfill.resolutionS;
      const profiles = new Map(
        capacity.pools.map((pool) => [
          pool.pool.id,
          new GpuProfile(
            now,
            pool.totalFreeGpus(),
            [
              ...running,
              ...starts.map((s) => ({ job: started.get(s.jobId)!, placement: s.placement, startedAt: now })),
            ]
              .filter((run) => run.placement.poolId === pool.pool.id)
              .map((run) => ({
                at: resolve(run.startedAt + run.job.maxRuntimeS),
                gpus: run.job.resources.gpus,
              })),
          ),
        ]),
      );
      const hopeless = new Set<string>();
      const tested: Entry[] = [];
      for (let test = 0; test < backfill.maxJobTest; test++) {
        const entry = this.popHighest(now);
        if (entry === undefined) break;
        tested.push(entry);
        const { job } = entry;
        const shape = `${job.priorityClass}|${job.preemptible}|${job.resources.gpuType}|${job.resources.gpus}|${job.resources.nodes}|${job.maxRuntimeS}`;
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
        // Plan the earliest start within bf_window, so nothing below delays it.
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
      this.putBack(
        tested.filter((entry) => entry.pending),
        now,
      );
    }

    const decision = {
      starts,
      preemptions: [],
      waiting:
        options.explain === false
          ? []
          : [...this.entries.values()].map((entry) => ({ jobId: entry.job.id, reason: BEHIND_HEAD })),
      usage,
    };
    this.book.apply(decision, (jobId) => started.get(jobId)!, now);
    return decision;
  }

  private groupOf(job: Job): Group {
    const key = `${job.team}|${job.priorityClass}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new Group(job.team, classOf(job).value / PRIORITY_CLASSES.critical.value);
      this.groups.set(key, group);
    }
    return group;
  }

  private sizeFactor(job: Job): number {
    return this.clusterGpus > 0 ? Math.min(1, job.resources.gpus / this.clusterGpus) : 0;
  }

  /** Lower is better; the age term grows with `now` alike for every young job of a group. */
  private youngKey(job: Job): number {
    const { weights, priorityMaxAgeS } = this.config;
    return -weights.jobSize * this.sizeFactor(job) + (weights.age * job.submitTime) / priorityMaxAgeS;
  }

  private cappedKey(job: Job): number {
    return -this.config.weights.jobSize * this.sizeFactor(job) + job.submitTime * 1e-12;
  }

  /** Jobs pending past PriorityMaxAge stop gaining age priority. */
  private ageOut(now: number): void {
    const cutoff = now - this.config.priorityMaxAgeS;
    for (const group of this.groups.values()) {
      while (group.next < group.arrivals.length && group.arrivals[group.next]!.job.submitTime <= cutoff) {
        const entry = group.arrivals[group.next++]!;
        if (!entry.pending || entry.capped) continue;
        entry.capped = true;
        group.capped.push(entry, this.cappedKey(entry.job));
      }
      if (group.next > 1024 && group.next * 2 > group.arrivals.length) {
        group.arrivals.splice(0, group.next);
        group.next = 0;
      }
    }
  }

  private priorityOf(group: Group, entry: Entry, now: number): number {
    const { weights, priorityMaxAgeS } = this.config;
    const age = entry.capped ? 1 : Math.min(1, Math.max(0, now - entry.job.submitTime) / priorityMaxAgeS);
    return (
      weights.qos * group.qosFactor +
      weights.fairshare * (this.fairshare.get(group.team) ?? 0) +
      weights.jobSize * this.sizeFactor(entry.job) +
      weights.age * age
    );
  }

  /** Removes and returns the pending job of highest priority (ties: earlier submit). */
  private popHighest(now: number): Entry | undefined {
    let best: { heap: KeyedHeap<Entry>; entry: Entry; priority: number } | undefined;
    for (const group of this.groups.values()) {
      for (const heap of [group.young, group.capped]) {
        const entry = liveHead(heap, heap === group.capped);
        if (entry === undefined) continue;
        const priority = this.priorityOf(group, entry, now);
        if (
          best === undefined ||
          priority > best.priority ||
          (priority === best.priority && entry.job.submitTime < best.entry.job.submitTime)
        )
          best = { heap, entry, priority };
      }
    }
    best?.heap.pop();
    return best?.entry;
  }

  private putBack(entries: readonly Entry[], now: number): void {
    for (const entry of entries) {
      if (!entry.pending) continue;
      const group = this.groupOf(entry.job);
      if (entry.capped) group.capped.push(entry, this.cappedKey(entry.job));
      else if (now - entry.job.submitTime >= this.config.priorityMaxAgeS) {
        entry.capped = true;
        group.capped.push(entry, this.cappedKey(entry.job));
      } else group.young.push(entry, this.youngKey(entry.job));
    }
  }

  private take(jobId: string): void {
    const entry = this.entries.get(jobId);
    if (entry !== undefined) entry.pending = false;
    this.entries.delete(jobId);
  }
}

/** The heap's first live entry of the right kind; stale ones are dropped as they surface. */
function liveHead(heap: KeyedHeap<Entry>, capped: boolean): Entry | undefined {
  for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
    if (top.item.pending && top.item.capped === capped) return top.item;
    heap.pop();
  }
  return undefined;
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
