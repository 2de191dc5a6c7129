import type { SimulationResult } from './engine';

/** The per-policy figures the benchmark reports. */
export interface PolicyMetrics {
  readonly avgJctS: number;
  readonly p50WaitS: number;
  readonly p99WaitS: number;
  readonly maxWaitS: number;
  readonly makespanS: number;
  /** Useful GPU-seconds over capacity × makespan: work lost to preemption does not count. */
  readonly utilization: number;
  readonly jain: number;
  readonly preemptions: number;
}

export function metricsOf(result: SimulationResult): PolicyMetrics {
  const { outcomes } = result;
  const waits = outcomes.map((outcome) => outcome.waitS).sort((a, b) => a - b);
  const totalJct = outcomes.reduce((sum, outcome) => sum + outcome.finishTime - outcome.submitTime, 0);
  const makespanS = result.lastFinish - result.firstSubmit;
  return {
    avgJctS: totalJct / Math.max(1, outcomes.length),
    p50WaitS: quantile(waits, 0.5),
    p99WaitS: quantile(waits, 0.99),
    maxWaitS: waits[waits.length - 1] ?? 0,
    makespanS,
    utilization: result.usefulGpuS / (result.capacityGpus * Math.max(1, makespanS)),
    jain: result.jain,
    preemptions: result.preemptions,
  };
}

/** Size classes for per-team wait reports: one GPU, up to one 8-GPU node, gangs beyond. */
export const SIZE_CLASSES = ['1 GPU', '2-8 GPUs', '>8 GPUs'] as const;
export type SizeClass = (typeof SIZE_CLASSES)[number];

export function sizeClassOf(gpus: number): SizeClass {
  if (gpus <= 1) return '1 GPU';
  return gpus <= 8 ? '2-8 GPUs' : '>8 GPUs';
}

export interface WaitSummary {
  readonly jobs: number;
  readonly p99WaitS: number;
  readonly maxWaitS: number;
}

/** p99 and max wait of every team × size class that has jobs. */
export function waitsByTeamAndSize(
  result: SimulationResult,
): Record<string, Partial<Record<SizeClass, WaitSummary>>> {
  const groups = new Map<string, Map<SizeClass, number[]>>();
  for (const outcome of result.outcomes) {
    let byTeam = groups.get(outcome.team);
    if (byTeam === undefined) {
      byTeam = new Map();
      groups.set(outcome.team, byTeam);
    }
    const size = sizeClassOf(outcome.gpus);
    let waits = byTeam.get(size);
    if (waits === undefined) {
      waits = [];
      byTeam.set(size, waits);
    }
    waits.push(outcome.waitS);
  }
  const report: Record<string, Partial<Record<SizeClass, WaitSummary>>> = {};
  for (const [team, bySize] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    report[team] = {};
    for (const size of SIZE_CLASSES) {
      const waits = bySize.get(size)?.sort((a, b) => a - b);
      if (waits === undefined) continue;
      report[team][size] = {
        jobs: waits.length,
        p99WaitS: quantile(waits, 0.99),
        maxWaitS: waits[waits.length - 1] ?? 0,
      };
    }
  }
  return report;
}

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
