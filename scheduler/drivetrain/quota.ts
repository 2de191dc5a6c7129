import type { RunningJob, Team } from '../model';

/**
 * GPUs each team holds per GPU type, against its nominal quota (Kueue cohort semantics:
 * quota a team leaves idle is lent to others, and taken back when the owner needs it).
 */
export class QuotaLedger {
  /** team → GPU type → GPUs held. */
  private readonly held = new Map<string, Map<string, number>>();
  private readonly quotas = new Map<string, Readonly<Record<string, number>>>();

  constructor(teams: readonly Team[], running: readonly RunningJob[]) {
    for (const team of teams) this.quotas.set(team.id, team.nominalQuota);
    for (const { job } of running) this.add(job.team, job.resources.gpuType, job.resources.gpus);
  }

  quota(team: string, gpuType: string): number {
    return this.quotas.get(team)?.[gpuType] ?? 0;
  }

  gpusHeld(team: string, gpuType: string): number {
    return this.held.get(team)?.get(gpuType) ?? 0;
  }

  /** True if the team would stay within its nominal quota after taking `gpus` more. */
  fitsQuota(team: string, gpuType: string, gpus: number): boolean {
    return this.gpusHeld(team, gpuType) + gpus <= this.quota(team, gpuType);
  }

  /** True if the team holds more than its nominal quota, i.e. some of its work is borrowed. */
  isBorrowing(team: string, gpuType: string): boolean {
    return this.gpusHeld(team, gpuType) > this.quota(team, gpuType);
  }

  add(team: string, gpuType: string, gpus: number): void {
    let byType = this.held.get(team);
    if (byType === undefined) {
      byType = new Map();
      this.held.set(team, byType);
    }
    byType.set(gpuType, (byType.get(gpuType) ?? 0) + gpus);
  }
}

/**
 * Running jobs that run on borrowed quota. A team's jobs fill its nominal quota first come,
 * first served (first fit by start time, per GPU type); what does not fit is borrowed. So a
 * job that started within its team's quota stays within it while it runs, and the borrowed
 * jobs hold at least everything the team holds beyond its quota.
 */
export function borrowedJobs(teams: readonly Team[], running: readonly RunningJob[]): Set<string> {
  const quotas = new Map(teams.map((team) => [team.id, team.nominalQuota]));
  const inOrder = [...running].sort(
    (a, b) => a.startedAt - b.startedAt || (a.job.id < b.job.id ? -1 : a.job.id > b.job.id ? 1 : 0),
  );
  const filled = new Map<string, number>();
  const borrowed = new Set<string>();
  for (const { job } of inOrder) {
    const { gpuType, gpus } = job.resources;
    const key = `${job.team}|${gpuType}`;
    const used = filled.get(key) ?? 0;
    if (used + gpus <= (quotas.get(job.team)?.[gpuType] ?? 0)) filled.set(key, used + gpus);
    else borrowed.add(job.id);
  }
  return borrowed;
}
