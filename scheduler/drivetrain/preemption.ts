import type { PoolCapacity } from '../capacity';
import { classOf, isPreemptible, type Job, type Placement, type RunningJob } from '../model';
import type { PreemptJob } from '../policy';
import type { PriorityClassName } from '../priority-classes';
import type { QuotaLedger } from './quota';

/** Release-blocking work is never stopped (see priority-classes.ts); its borrowing ends with it. */
const NEVER_PREEMPTED: PriorityClassName = 'critical';

export interface PreemptionRules {
  /** A job that started less than this ago is left alone, so two jobs cannot ping-pong. */
  readonly graceS: number;
  /** Time a restarted job spends before doing useful work again: part of a victim's cost. */
  readonly restartOverheadS: number;
}

export interface Victim {
  readonly running: RunningJob;
  readonly reason: PreemptJob['reason'];
  /** GPU-seconds thrown away: work since the last checkpoint plus the restart overhead. */
  readonly costGpuS: number;
}

export interface Eviction {
  readonly placement: Placement;
  readonly victims: readonly Victim[];
}

/**
 * Running jobs that could ever be preempted this round (not critical, past their grace),
 * per pool and in preference order, built once per round and filtered per waiting job.
 */
export class VictimCatalog {
  private readonly byPool = new Map<string, Victim[]>();
  private readonly gone = new Set<string>();

  constructor(
    running: readonly RunningJob[],
    private readonly quota: QuotaLedger,
    private readonly now: number,
    private readonly rules: PreemptionRules,
  ) {
    for (const candidate of running) {
      if (candidate.job.priorityClass === NEVER_PREEMPTED || now - candidate.startedAt < rules.graceS)
        continue;
      const victims = this.byPool.get(candidate.placement.poolId) ?? [];
      // The reason is settled per waiting job in `for`; this one only sorts.
      victims.push({
        running: candidate,
        reason: 'higher-class',
        costGpuS: restartCostGpuS(candidate, now, rules),
      });
      this.byPool.set(candidate.placement.poolId, victims);
    }
    for (const victims of this.byPool.values()) victims.sort(byPreference);
  }

  /** True if some running job might still be preempted for someone. */
  get isEmpty(): boolean {
    for (const victims of this.byPool.values()) {
      if (victims.some((victim) => !this.gone.has(victim.running.job.id))) return false;
    }
    return true;
  }

  /** The jobs in `poolId` that may be stopped for `job`, best victim first. */
  for(job: Job, poolId: string): Victim[] {
    const eligible: Victim[] = [];
    const borrowing = new Map<string, boolean>();
    const isBorrowing = (team: string) => {
      let answer = borrowing.get(team);
      if (answer === undefined) {
        answer = this.quota.isBorrowing(team, job.resources.gpuType);
        borrowing.set(team, answer);
      }
      return answer;
    };
    const jobClass = classOf(job);
    const mayReclaim = this.quota.fitsQuota(job.team, job.resources.gpuType, job.resources.gpus);
    for (const victim of this.byPool.get(poolId) ?? []) {
      const { job: running } = victim.running;
      if (this.gone.has(running.id)) continue;
      const victimClass = classOf(running);
      if (jobClass.mayPreempt && isPreemptible(running) && victimClass.value < jobClass.value) {
        eligible.push(victim);
      } else if (
        mayReclaim &&
        running.team !== job.team &&
        victimClass.value <= jobClass.value &&
        isBorrowing(running.team)
      ) {
        eligible.push({ ...victim, reason: 'reclaim-quota' });
      }
    }
    return eligible;
  }

  remove(jobId: string): void {
    this.gone.add(jobId);
  }
}

/**
 * Why `candidate` may be stopped for `job`, if it may:
 * - higher-class: the job's class may preempt, the candidate is preemptible and of a lower class;
 * - reclaim-quota: the job stays within its team's nominal quota, and the candidate is work
 *   another team runs on borrowed quota, of no higher class than the job.
 */
export function victimReason(
  candidate: RunningJob,
  job: Job,
  quota: QuotaLedger,
  now: number,
  rules: PreemptionRules,
): Victim['reason'] | undefined {
  const victim = candidate.job;
  if (victim.priorityClass === NEVER_PREEMPTED || now - candidate.startedAt < rules.graceS) return undefined;
  const jobClass = classOf(job);
  const victimClass = classOf(victim);
  if (jobClass.mayPreempt && isPreemptible(victim) && victimClass.value < jobClass.value)
    return 'higher-class';
  const gpuType = job.resources.gpuType;
  const reclaims =
    victim.team !== job.team &&
    victimClass.value <= jobClass.value &&
    quota.isBorrowing(victim.team, gpuType) &&
    quota.fitsQuota(job.team, gpuType, job.resources.gpus);
  return reclaims ? 'reclaim-quota' : undefined;
}

export function restartCostGpuS(candidate: RunningJob, now: number, rules: PreemptionRules): number {
  const lostS = Math.max(0, now - candidate.lastCheckpointAt);
  return candidate.job.resources.gpus * (lostS + rules.restartOverheadS);
}

/**
 * The cheapest set of victims in one pool whose removal lets `job` start: add candidates
 * from lowest class and cheapest restart up until the job fits, then drop any victim the
 * job can do without, dearest first, so the set is minimal.
 */
export function evictionIn(
  pool: PoolCapacity,
  job: Job,
  candidates: readonly Victim[],
  quota: QuotaLedger,
  maxVictims: number,
  usable?: (node: number) => boolean,
): Eviction | undefined {
  const trial = pool.clone();
  const freedFromTeam = new Map<string, number>();
  const chosen: Victim[] = [];
  let nodes = trial.findNodes(job.resources, usable);
  for (const victim of candidates) {
    if (nodes !== undefined || chosen.length >= maxVictims) break;
    const { team, resources } = victim.running.job;
    const freed = freedFromTeam.get(team) ?? 0;
    // Reclaim stops once the borrower is back within its quota (Kueue takes the same view).
    const stillBorrowing =
      quota.gpusHeld(team, resources.gpuType) - freed > quota.quota(team, resources.gpuType);
    if (victim.reason === 'reclaim-quota' && !stillBorrowing) continue;
    trial.release(resources, victim.running.placement.nodes);
    freedFromTeam.set(team, freed + resources.gpus);
    chosen.push(victim);
    nodes = trial.findNodes(job.resources, usable);
  }
  if (nodes === undefined) return undefined;

  const needed: Victim[] = [];
  for (const victim of [...chosen].reverse()) {
    const { resources } = victim.running.job;
    trial.allocate(resources, victim.running.placement.nodes);
    if (trial.findNodes(job.resources, usable) === undefined) {
      trial.release(resources, victim.running.placement.nodes);
      needed.push(victim);
    }
  }
  const placementNodes = trial.findNodes(job.resources, usable);
  if (placementNodes === undefined) return undefined;
  return { placement: { poolId: pool.pool.id, nodes: placementNodes }, victims: needed.reverse() };
}

export function totalCost(eviction: Eviction): number {
  return eviction.victims.reduce((sum, victim) => sum + victim.costGpuS, 0);
}

/** Lowest class first, then the cheapest restart. */
export function byPreference(a: Victim, b: Victim): number {
  return classOf(a.running.job).value - classOf(b.running.job).value || a.costGpuS - b.costGpuS;
}
