/**
 * Free GPUs of one pool over future time, as backfill planners keep it: a step function
 * that running jobs raise when they are due to end (at their declared limit) and planned
 * starts lower. `free[i]` holds on [times[i], times[i + 1]); the last step lasts for ever.
 */
export class GpuProfile {
  private readonly times: number[];
  private readonly free: number[];

  constructor(
    now: number,
    freeNow: number,
    releases: readonly { readonly at: number; readonly gpus: number }[],
  ) {
    this.times = [now];
    this.free = [freeNow];
    const sorted = [...releases].sort((a, b) => a.at - b.at);
    for (const { at, gpus } of sorted) {
      const last = this.times.length - 1;
      const when = Math.max(now, at);
      if (when === this.times[last]) this.free[last]! += gpus;
      else {
        this.times.push(when);
        this.free.push(this.free[last]! + gpus);
      }
    }
  }

  /** The fewest free GPUs at any instant in [from, to). */
  minFree(from: number, to: number): number {
    let least = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.times.length; i++) {
      const end = this.times[i + 1] ?? Number.POSITIVE_INFINITY;
      if (end <= from) continue;
      if (this.times[i]! >= to) break;
      least = Math.min(least, this.free[i]!);
    }
    return least;
  }

  /** The earliest start in [from, latest] with `gpus` free for `durationS`, in one pass. */
  earliest(gpus: number, durationS: number, from: number, latest: number): number | undefined {
    let start = from;
    for (let i = 0; i < this.times.length; i++) {
      const end = this.times[i + 1] ?? Number.POSITIVE_INFINITY;
      if (end <= start) continue;
      if (this.free[i]! < gpus) {
        start = end;
        if (start > latest) return undefined;
      } else if (end - start >= durationS) return start;
    }
    return start <= latest ? start : undefined;
  }

  /** Plans `gpus` taken over [from, to). */
  take(gpus: number, from: number, to: number): void {
    const first = this.split(from);
    const last = this.split(to);
    for (let i = first; i < last; i++) this.free[i]! -= gpus;
  }

  /** Index of the step that starts at `at`, splitting the step that contains it. */
  private split(at: number): number {
    let i = this.times.length - 1;
    while (i > 0 && this.times[i]! > at) i--;
    if (this.times[i] === at) return i;
    if (at < this.times[0]!) return 0;
    this.times.splice(i + 1, 0, at);
    this.free.splice(i + 1, 0, this.free[i]!);
    return i + 1;
  }
}
