import { uniformHash } from './workload';

export interface SyntheticTraceRule {
  readonly jobs: number;
  readonly seed: number;
  readonly teams: number;
  /** Mean time between submissions. */
  readonly meanInterarrivalS: number;
}

const GPU_SIZES = [1, 1, 1, 1, 2, 2, 4, 8, 8, 16, 32] as const;
const START = Date.UTC(2024, 0, 1) / 1000;

/**
 * A Philly-format CSV of made-up jobs, to try the benchmark on traces this repository does
 * not hold: Poisson arrivals; log-normal durations (median 20 min, σ = 2 in log space, so a
 * few run for days); sizes drawn from GPU_SIZES (mostly one GPU, a few gangs); teams drawn
 * by a Zipf(1) law, so one team is much busier than the rest. Every draw is seeded.
 */
export function syntheticTraceCsv(rule: SyntheticTraceRule): string {
  const lines = ['timestamp,duration,num_gpus,gpu_time,cluster'];
  const zipf = Array.from({ length: rule.teams }, (_, k) => 1 / (k + 1));
  const zipfTotal = zipf.reduce((sum, w) => sum + w, 0);
  let clock = START;
  for (let i = 0; i < rule.jobs; i++) {
    const draw = (salt: number) => uniformHash(rule.seed + salt, i);
    clock += -Math.log(1 - draw(1)) * rule.meanInterarrivalS;
    const normal = Math.sqrt(-2 * Math.log(1 - draw(2))) * Math.cos(2 * Math.PI * draw(3));
    const duration = Math.max(1, Math.round(1200 * Math.exp(2 * normal)));
    const gpus = GPU_SIZES[Math.floor(draw(4) * GPU_SIZES.length)]!;
    let pick = draw(5) * zipfTotal;
    let team = 0;
    while (team < rule.teams - 1 && pick >= zipf[team]!) pick -= zipf[team++]!;
    const stamp = new Date(Math.floor(clock) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    lines.push(`${stamp},${duration},${gpus},${duration * gpus},team-${team}`);
  }
  return `${lines.join('\n')}\n`;
}
