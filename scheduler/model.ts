import type { Reservation } from './policy';
import { PRIORITY_CLASSES, type PriorityClassName } from './priority-classes';
import type { Resources } from './resources';

/** What one job asks for. `gpus`, `cpus` and `memoryMiB` are totals, split evenly over `nodes`. */
export interface JobResources extends Resources {
  readonly gpuType: string;
  /** Gang size: a multi-node job starts on all of its nodes at once or not at all. */
  readonly nodes: number;
}

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Job {
  readonly id: string;
  readonly team: string;
  readonly priorityClass: PriorityClassName;
  readonly resources: JobResources;
  /**
   * The job may be stopped and restarted from its last checkpoint, and so may run on spot
   * capacity. Always true for the preemptible class; other classes may opt in.
   */
  readonly preemptible: boolean;
  /** Hard runtime limit declared at submit; the only runtime estimate the scheduler gets. */
  readonly maxRuntimeS: number;
  /** Epoch seconds. */
  readonly submitTime: number;
  /**
   * The backend the user asked for (`batch`, `eks`, `sagemaker`, `local`); undefined lets the
   * scheduler place the job in any pool it fits.
   */
  readonly backend?: string;
  /**
   * Backends whose service limits accept the job's spec (`backend: auto` jobs); undefined
   * means any. A pool of another backend never takes the job.
   */
  readonly backends?: readonly string[];
  readonly state: JobState;
  /** GPU-seconds the job already ran in earlier, preempted attempts (0 for a fresh job). */
  readonly attainedGpuS: number;
}

export interface Team {
  readonly id: string;
  /** Relative fair-share weight; a team with weight 2 is entitled to twice the share of weight 1. */
  readonly weight: number;
  /** GPUs per GPU type the team owns. Idle quota is lent to other teams and reclaimed on demand. */
  readonly nominalQuota: Readonly<Record<string, number>>;
}

export type CapacityType = 'on-demand' | 'spot';

/** Which jobs a pool takes: AWS Batch runs multi-node parallel jobs in compute environments of their own. */
export type PoolJobShapes = 'single-node' | 'multi-node' | 'any';

/**
 * A homogeneous group of nodes where a job really lands: one GPU type bought one way on one
 * backend (an AWS Batch compute environment, an EKS NodePool, a SageMaker instance type
 * under its account quota, a local slot group).
 */
export interface Pool {
  readonly id: string;
  readonly gpuType: string;
  readonly capacityType: CapacityType;
  readonly nodeCount: number;
  /** Allocatable resources of one node. */
  readonly node: Resources;
  /** Backend that runs what is placed here; undefined means any (simulated clusters). */
  readonly backend?: string;
  /** @default 'any' */
  readonly jobShapes?: PoolJobShapes;
  /**
   * A node holds at most one job (one gang member), however much of it the job leaves idle:
   * SageMaker gives every training job whole instances. @default false
   */
  readonly exclusiveNodes?: boolean;
}

/**
 * Whether a job may be placed in the pool at all: its backend (the one it named, or one of
 * those that accept its spec) and its shape (gang or not).
 */
export function poolAdmits(pool: Pool, job: Job): boolean {
  if (pool.backend !== undefined) {
    if (job.backend !== undefined && job.backend !== pool.backend) return false;
    if (job.backends !== undefined && !job.backends.includes(pool.backend)) return false;
  }
  const shapes = pool.jobShapes ?? 'any';
  if (shapes === 'any') return true;
  return job.resources.nodes > 1 ? shapes === 'multi-node' : shapes === 'single-node';
}

/** Where a job runs: one node index (within the pool) per gang member. */
export interface Placement {
  readonly poolId: string;
  readonly nodes: readonly number[];
}

export interface RunningJob {
  readonly job: Job;
  readonly placement: Placement;
  readonly startedAt: number;
  /** Work done before this instant survives a preemption; work after it is lost. */
  readonly lastCheckpointAt: number;
}

/**
 * Each team's exponentially decayed resource-seconds as of `at`. The policy returns the
 * updated ledger with every decision; the caller stores it and passes it back next round.
 */
export interface UsageLedger {
  readonly at: number;
  readonly byTeam: Readonly<Record<string, TeamUsage>>;
}

/**
 * Decayed resource-seconds of one team. `gpus` sums every GPU type (kept for ledgers stored
 * before `gpusByType` existed); fair share reads each GPU type on its own from `gpusByType`.
 */
export interface TeamUsage extends Resources {
  readonly gpusByType?: Readonly<Record<string, number>>;
}

/** Everything one dispatch round looks at. Plain data, so it serialises as is. */
export interface ClusterState {
  readonly pools: readonly Pool[];
  readonly teams: readonly Team[];
  /** Pending jobs, in any order. */
  readonly pending: readonly Job[];
  readonly running: readonly RunningJob[];
  readonly usage: UsageLedger;
  /**
   * Last round's `Decision.carriedHolds` of jobs still pending. Without them (a cold
   * start) holds are made afresh, and a held job's start may slip past its first hold.
   */
  readonly carriedHolds?: readonly Reservation[];
  /**
   * The last two run times of each team's ended jobs (from the job store), from which holds
   * are planned (`RuntimePredictor`). Without them, declared limits are used.
   */
  readonly recentRuntimes?: Readonly<Record<string, readonly number[]>>;
}

export function emptyUsage(at: number): UsageLedger {
  return { at, byTeam: {} };
}

export function classOf(job: Pick<Job, 'priorityClass'>) {
  return PRIORITY_CLASSES[job.priorityClass];
}

/** The class decides, but a job of a non-preemptible class may opt in (e.g. to use spot). */
export function isPreemptible(job: Pick<Job, 'priorityClass' | 'preemptible'>): boolean {
  return job.preemptible || classOf(job).preemptible;
}

/** Resources of one gang member. */
export function perNode(resources: JobResources): Resources {
  const n = resources.nodes;
  return { gpus: resources.gpus / n, cpus: resources.cpus / n, memoryMiB: resources.memoryMiB / n };
}
