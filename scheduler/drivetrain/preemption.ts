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
  if (jobClass.mayPreempt && isPreemptible(victim) && victimClass.value < jobClass.value) return 'higher-class';
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
    const stillBorrowing = quota.gpusHeld(team, resources.gpuType) - freed > quota.quota(team, resources.gpuType);
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
