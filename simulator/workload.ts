import type { Job } from '../scheduler/model';
import type { PriorityClassName } from '../scheduler/priority-classes';
import type { Resources } from '../scheduler/resources';
import type { TraceRecord } from './trace';

/** A job plus what only the simulator knows: how long it really runs. */
export interface WorkloadJob {
  readonly job: Job;
  readonly durationS: number;
}

/**
 * Where each job's declared max runtime (the only runtime estimate any policy sees) comes
 * from: `user`, the model below; `perfect`, the true duration, which no user knows (an
 * upper bound on what estimates can buy, never the headline).
 */
export type EstimateModel = 'user' | 'perfect';

/**
 * How trace rows become jobs. The trace has no priorities, so each job's class comes from a
 * seeded hash of its row number: a fixed, reproducible draw, independent of the job's size,
 * duration or team.
 */
export interface WorkloadRule {
  readonly seed: number;
  /** Fractions of jobs per class; they must sum to 1. */
  readonly classMix: Readonly<Record<PriorityClassName, number>>;
  readonly gpuType: string;
  /** The node the jobs are sized for: CPUs and memory are taken per GPU from it. */
  readonly node: Resources;
  readonly estimates: EstimateModel;
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** The coarse limits users pick from (a partition's default menu: an hour, 4 h, a day, a week). */
export const USER_RUNTIME_LIMITS_S = [HOUR, 4 * HOUR, DAY, WEEK] as const;
/** Least accuracy (runtime / estimate) a user's estimate has: at most a 20-fold overestimate. */
const MIN_ACCURACY = 0.05;
/** Salt that keeps the estimate draw independent of the class draw of the same row. */
const ESTIMATE_SALT = 0x5eed;

export const DEFAULT_WORKLOAD_RULE: WorkloadRule = {
  seed: 20_171_222,
  classMix: { critical: 0.1, standard: 0.6, preemptible: 0.3 },
  gpuType: 'v100',
  node: { gpus: 8, cpus: 64, memoryMiB: 512 * 1024 },
  estimates: 'user',
};

export function toWorkload(
  records: readonly TraceRecord[],
  rule: WorkloadRule = DEFAULT_WORKLOAD_RULE,
): WorkloadJob[] {
  return records.map((record) => ({ job: toJob(record, rule), durationS: record.durationS }));
}

function toJob(record: TraceRecord, rule: WorkloadRule): Job {
  const priorityClass = classFor(record.row, rule);
  const perGpu = (total: number) => (record.gpus * total) / rule.node.gpus;
  return {
    id: `job-${record.row}`,
    team: record.cluster,
    priorityClass,
    resources: {
      gpus: record.gpus,
      gpuType: rule.gpuType,
      cpus: perGpu(rule.node.cpus),
      memoryMiB: perGpu(rule.node.memoryMiB),
      nodes: Math.ceil(record.gpus / rule.node.gpus),
    },
    preemptible: priorityClass === 'preemptible',
    maxRuntimeS:
      rule.estimates === 'perfect'
        ? Math.max(1, Math.ceil(record.durationS))
        : userEstimate(record.durationS, uniformHash(rule.seed ^ ESTIMATE_SALT, record.row)),
    submitTime: record.submitTime,
    state: 'pending',
    attainedGpuS: 0,
  };
}

export function classFor(row: number, rule: WorkloadRule): PriorityClassName {
  const draw = uniformHash(rule.seed, row);
  let cumulative = 0;
  const classes = Object.entries(rule.classMix) as [PriorityClassName, number][];
  for (const [name, fraction] of classes) {
    cumulative += fraction;
    if (draw < cumulative) return name;
  }
  return classes[classes.length - 1]![0];
}

/**
 * A user's declared limit, after the observations of Mu'alem & Feitelson (IEEE TPDS 2001)
 * and Tsafrir, Etsion & Feitelson ("Modeling user runtime estimates", JSSPP 2005): users
 * overestimate, their accuracy (runtime / estimate) is spread roughly uniformly, and the
 * estimates they write are a few round values. So: accuracy is drawn uniformly from
 * [0.05, 1) with the seeded `draw`, the user's guess is duration / accuracy, and the limit is
 * the smallest of the coarse limits that covers the guess. A guess beyond a week is a week,
 * and a job that really runs longer asks for whole weeks: a limit never kills a trace job.
 * The estimate depends on the duration only through this noisy, coarse guess.
 */
export function userEstimate(durationS: number, draw: number): number {
  const accuracy = MIN_ACCURACY + (1 - MIN_ACCURACY) * draw;
  const guess = durationS / accuracy;
  if (durationS > WEEK) return Math.ceil(durationS / WEEK) * WEEK;
  return USER_RUNTIME_LIMITS_S.find((limit) => limit >= guess) ?? WEEK;
}

/** A uniform draw in [0, 1) from (seed, index): murmur3's 32-bit finaliser over both. */
export function uniformHash(seed: number, index: number): number {
  let h = (Math.imul(seed, 0x9e3779b1) ^ index) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}
