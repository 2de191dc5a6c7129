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

/** Nearest-rank quantile of an ascending array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
