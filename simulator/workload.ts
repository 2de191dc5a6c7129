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
}

const HOUR = 3600;
const DAY = 24 * HOUR;
/**
 * Users declare a max runtime; we assume they pick the next common limit above the job's
 * real duration (schedulers offer such menus). The policy sees only this, never the duration.
 */
const RUNTIME_LIMITS_S = [HOUR, 4 * HOUR, 12 * HOUR, DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY];

export const DEFAULT_WORKLOAD_RULE: WorkloadRule = {
  seed: 20_171_222,
  classMix: { critical: 0.1, standard: 0.6, preemptible: 0.3 },
  gpuType: 'v100',
  node: { gpus: 8, cpus: 64, memoryMiB: 512 * 1024 },
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
    maxRuntimeS: declaredLimit(record.durationS),
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

function declaredLimit(durationS: number): number {
  return RUNTIME_LIMITS_S.find((limit) => limit >= durationS) ?? Math.ceil(durationS / DAY) * DAY;
}

/** A uniform draw in [0, 1) from (seed, index): murmur3's 32-bit finaliser over both. */
export function uniformHash(seed: number, index: number): number {
  let h = (Math.imul(seed, 0x9e3779b1) ^ index) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}
