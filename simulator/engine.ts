import { ClusterCapacity } from '../scheduler/capacity';
import { KeyedHeap } from '../scheduler/keyed-heap';
import {
  emptyUsage,
  type Job,
  type Placement,
  type Pool,
  type RunningJob,
  type Team,
} from '../scheduler/model';
import type { Decision, PolicySession, SchedulingPolicy } from '../scheduler/policy';
import { EntitlementTracker } from './fairness';
import type { WorkloadJob } from './workload';

export interface SimulationConfig {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  /** A running job saves its progress this often; a preempted job resumes from the last save. */
  readonly checkpointIntervalS: number;
  /** Time a restarted job needs (reload, warm-up) before it makes progress again. */
  readonly restartOverheadS: number;
}

export interface JobOutcome {
  readonly id: string;
  readonly team: string;
  readonly gpus: number;
  readonly submitTime: number;
  readonly finishTime: number;
  /** Total time spent pending, over all attempts. */
  readonly waitS: number;
}

export interface SimulationResult {
  readonly policy: string;
  readonly outcomes: readonly JobOutcome[];
  readonly preemptions: number;
  readonly rounds: number;
  readonly firstSubmit: number;
  readonly lastFinish: number;
  readonly capacityGpus: number;
  /** GPU-seconds of work that counted towards a job's completion. */
  readonly usefulGpuS: number;
  /** GPU-seconds lost to preemption: work after the last checkpoint, plus restart overheads. */
  readonly lostGpuS: number;
  readonly jain: number;
}

/** A job's simulation state across its attempts. */
interface Tracked {
  job: Job;
  readonly durationS: number;
  /** Useful work still to do. */
  remainingS: number;
  attempt: number;
  runStart: number;
  overheadS: number;
  ranS: number;
  running: RunningJob | undefined;
}

/**
 * Discrete-event replay: arrivals and completions are the events; all events at one instant
 * are applied together and followed by one policy round. The simulator keeps its own books
 * (capacity, progress, checkpoints) and checks every decision against them.
 */
export class Simulation {
  private readonly tracked = new Map<string, Tracked>();
  private readonly pending = new Map<string, Job>();
  private readonly running = new Map<string, Tracked>();
  /** Completion events, keyed by time; stale ones (the job was preempted) are skipped. */
  private readonly completions = KeyedHeap.empty<{ id: string; attempt: number }>();
  private readonly capacity: ClusterCapacity;
  private readonly heldByTeam = new Map<string, number>();
  private readonly demandByTeam = new Map<string, number>();
  private readonly entitlement: EntitlementTracker;
  private readonly outcomes: JobOutcome[] = [];
  private session: PolicySession | undefined;
  private preemptions = 0;
  private rounds = 0;
  private usefulGpuS = 0;
  private lostGpuS = 0;
  private clock = 0;

  constructor(
    private readonly config: SimulationConfig,
    private readonly policy: SchedulingPolicy,
  ) {
    this.capacity = ClusterCapacity.of(config.pools, []);
    const weights = new Map(config.teams.map((team) => [team.id, team.weight]));
    this.entitlement = new EntitlementTracker(this.capacityGpus(), weights);
  }

  run(workload: readonly WorkloadJob[]): SimulationResult {
    const arrivals = [...workload].sort((a, b) => a.job.submitTime - b.job.submitTime);
    const firstSubmit = arrivals[0]?.job.submitTime ?? 0;
    this.clock = firstSubmit;
    this.session = this.policy.open({
      pools: this.config.pools,
      teams: this.config.teams,
      pending: [],
      running: [],
      usage: emptyUsage(firstSubmit),
    });
    let next = 0;
    for (;;) {
      const nextArrival = arrivals[next]?.job.submitTime ?? Number.POSITIVE_INFINITY;
      const now = Math.min(nextArrival, this.nextCompletion());
      if (now === Number.POSITIVE_INFINITY) break;
      this.advanceTo(now);
      this.completeDueJobs(now);
      for (; arrivals[next]?.job.submitTime === now; next++) this.arrive(arrivals[next]!);
      this.round(now);
    }
    if (this.pending.size > 0) {
      throw new Error(
        `${this.pending.size} job(s) never started under ${this.policy.name}, e.g. ${[...this.pending.keys()][0]}`,
      );
    }
    return {
      policy: this.policy.name,
      outcomes: this.outcomes,
      preemptions: this.preemptions,
      rounds: this.rounds,
      firstSubmit,
      lastFinish: this.clock,
      capacityGpus: this.capacityGpus(),
      usefulGpuS: this.usefulGpuS,
      lostGpuS: this.lostGpuS,
      jain: this.entitlement.jain(),
    };
  }

  private capacityGpus(): number {
    return this.config.pools.reduce((sum, pool) => sum + pool.node.gpus * pool.nodeCount, 0);
  }

  private nextCompletion(): number {
    for (;;) {
      const top = this.completions.peek();
      if (top === undefined) return Number.POSITIVE_INFINITY;
      if (this.tracked.get(top.item.id)?.attempt === top.item.attempt && this.running.has(top.item.id)) {
        return top.key;
      }
      this.completions.pop();
    }
  }

  private advanceTo(now: number): void {
    this.entitlement.record(now - this.clock, this.heldByTeam, this.demandByTeam);
    this.clock = now;
  }

  private arrive({ job, durationS }: WorkloadJob): void {
    if (this.tracked.has(job.id)) throw new Error(`duplicate job id ${job.id}`);
    const tracked: Tracked = {
      job,
      durationS,
      remainingS: durationS,
      attempt: 0,
      runStart: 0,
      overheadS: 0,
      ranS: 0,
      running: undefined,
    };
    this.tracked.set(job.id, tracked);
    this.pending.set(job.id, job);
    this.session!.submit(job);
    addTo(this.demandByTeam, job.team, job.resources.gpus);
  }

  private completeDueJobs(now: number): void {
    while (this.nextCompletion() === now) {
      const { id } = this.completions.pop()!;
      const tracked = this.tracked.get(id)!;
      this.stopRunning(tracked);
      this.session!.finish(id);
      this.usefulGpuS += tracked.remainingS * tracked.job.resources.gpus;
      this.lostGpuS += tracked.overheadS * tracked.job.resources.gpus;
      tracked.ranS += now - tracked.runStart;
      addTo(this.demandByTeam, tracked.job.team, -tracked.job.resources.gpus);
      this.outcomes.push({
        id,
        team: tracked.job.team,
        gpus: tracked.job.resources.gpus,
        submitTime: tracked.job.submitTime,
        finishTime: now,
        waitS: now - tracked.job.submitTime - tracked.ranS,
      });
    }
  }

  private round(now: number): void {
    if (this.pending.size === 0) return;
    this.rounds++;
    for (const tracked of this.running.values()) this.reportCheckpoint(tracked, now);
    this.apply(this.session!.decide(now, { explain: false }), now);
  }

  private apply(decision: Decision, now: number): void {
    for (const { jobId } of decision.preemptions) this.preempt(jobId, now);
    for (const { jobId, placement } of decision.starts) this.start(jobId, placement, now);
  }

  private start(id: string, placement: Placement, now: number): void {
    const job = this.pending.get(id);
    const tracked = this.tracked.get(id);
    if (job === undefined || tracked === undefined)
      throw new Error(`${this.policy.name} started ${id}, which is not pending`);
    this.capacity.allocate(job.resources, placement);
    this.pending.delete(id);
    tracked.job = { ...job, state: 'running' };
    tracked.overheadS = tracked.attempt > 0 ? this.config.restartOverheadS : 0;
    tracked.runStart = now;
    tracked.running = { job: tracked.job, placement, startedAt: now, lastCheckpointAt: now };
    this.running.set(id, tracked);
    addTo(this.heldByTeam, job.team, job.resources.gpus);
    this.completions.push({ id, attempt: tracked.attempt }, now + tracked.overheadS + tracked.remainingS);
  }

  private preempt(id: string, now: number): void {
    const tracked = this.running.get(id);
    if (tracked === undefined) throw new Error(`${this.policy.name} preempted ${id}, which is not running`);
    const { gpus } = tracked.job.resources;
    const saved = this.checkpointedWork(tracked, now);
    const ranS = now - tracked.runStart;
    this.stopRunning(tracked);
    this.usefulGpuS += saved * gpus;
    this.lostGpuS += (ranS - saved) * gpus;
    tracked.remainingS -= saved;
    tracked.ranS += ranS;
    tracked.attempt++;
    tracked.job = { ...tracked.job, state: 'pending', attainedGpuS: tracked.job.attainedGpuS + ranS * gpus };
    this.pending.set(id, tracked.job);
    this.session!.submit(tracked.job);
    this.preemptions++;
  }

  private stopRunning(tracked: Tracked): void {
    const placement = tracked.running?.placement;
    if (placement === undefined) throw new Error(`${tracked.job.id} is not running`);
    this.capacity.release(tracked.job.resources, placement);
    this.running.delete(tracked.job.id);
    tracked.running = undefined;
    addTo(this.heldByTeam, tracked.job.team, -tracked.job.resources.gpus);
  }

  /** Useful work of the current attempt that a checkpoint has saved by `now`. */
  private checkpointedWork(tracked: Tracked, now: number): number {
    const progress = Math.max(0, now - tracked.runStart - tracked.overheadS);
    const interval = this.config.checkpointIntervalS;
    return Math.min(tracked.remainingS, Math.floor(progress / interval) * interval);
  }

  /** Tells the policy about checkpoints taken since the last round (only the latest matters). */
  private reportCheckpoint(tracked: Tracked, now: number): void {
    const view = tracked.running!;
    const saved = this.checkpointedWork(tracked, now);
    const lastCheckpointAt = saved > 0 ? tracked.runStart + tracked.overheadS + saved : tracked.runStart;
    if (lastCheckpointAt === view.lastCheckpointAt) return;
    tracked.running = { ...view, lastCheckpointAt };
    this.session!.checkpointed(tracked.job.id, lastCheckpointAt);
  }
}

function addTo(totals: Map<string, number>, key: string, amount: number): void {
  totals.set(key, (totals.get(key) ?? 0) + amount);
}

export function simulate(
  workload: readonly WorkloadJob[],
  policy: SchedulingPolicy,
  config: SimulationConfig,
): SimulationResult {
  return new Simulation(config, policy).run(workload);
}
