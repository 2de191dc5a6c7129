/**
 * GC pauses of this process, tallied since it started, for the benchmarks that ask whether a
 * latency tail is a collector's: every pause stops the event loop. `gcPausesSince(mark)` gives
 * those after a `gcMark()`. A benchmark's server answers `GET /bench-gc?since=<n>` with
 * `gcPausesJson`: its pauses after the n-th.
 */
import { PerformanceObserver } from 'node:perf_hooks';

export interface GcPauses {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
}

const pauses: number[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) pauses.push(entry.duration);
}).observe({ entryTypes: ['gc'] });

/** A point to count pauses from. */
export const gcMark = (): number => pauses.length;

export function gcPausesSince(mark: number): GcPauses {
  let totalMs = 0;
  let maxMs = 0;
  for (let i = mark; i < pauses.length; i++) {
    totalMs += pauses[i]!;
    maxMs = Math.max(maxMs, pauses[i]!);
  }
  return {
    count: pauses.length - mark,
    totalMs: Number(totalMs.toFixed(3)),
    maxMs: Number(maxMs.toFixed(3)),
  };
}

export const BENCH_GC_PATH = '/bench-gc';

/** The answer to `GET /bench-gc?since=<n>`: the pauses after the n-th, and the count to pass next. */
export function gcPausesJson(url: string): string {
  const since = Number(new URL(url, 'http://localhost').searchParams.get('since') ?? 0);
  return JSON.stringify({ ...gcPausesSince(since), mark: gcMark() });
}
