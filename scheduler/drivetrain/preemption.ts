import type { PoolCapacity } from '../capacity';
import { classOf, isPreemptible, type Job, type Placement, type RunningJob, type Team } from '../model';
import type { PreemptJob } from '../policy';
import type { PriorityClassName } from '../priority-classes';
import { waitingSince } from './pending-index';
import { borrowedJobs, type QuotaLedger } from './quota';

export interface PreemptionRules {
  /** A job that started less than this ago is left alone, so two jobs cannot ping-pong. */
  readonly graceS: number;
  /** Time a restarted job spends before doing useful work again: part of a victim's cost. */
  readonly restartOverheadS: number;
  /**
   * Until a job has waited `patienceS`, it may preempt only while the round has stopped fewer
   * than `impatientVictims` jobs: capacity frees by itself every few minutes in a busy
   * cluster, and stopping many jobs throws much work away. A job that has waited that long
   * may stop as many as it needs (up to `maxPreemptionsPerRound`).
   */
  readonly patienceS: number;
  /**
   * Patience of the classes that differ from `patienceS`. Undefined: `patienceS` for all.
   */
  readonly patienceByClassS?: Partial<Record<PriorityClassName, number>>;
  readonly impatientVictims: number;
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
 * Running jobs that could ever be preempted this round (past their grace), per pool and in
 * preference order, built once per round and filtered per waiting job. Critical work is in
 * the catalog only for quota reclaim: no class may preempt it, but work it runs on quota
 * borrowed from another team goes back when that team asks (see `eligibleFor`).
 */
export class VictimCatalog {
  private readonly byPool = new Map<string, Victim[]>();
  private readonly gone = new Set<string>();
  /** Answers of `for` by what they depend on; a preemption changes quotas, so it clears them. */
  private readonly answers = new Map<string, Victim[]>();
  /** Jobs that run on quota their team borrowed: all another team may take (`borrowedJobs`). */
  private readonly borrowed: Set<string>;
  /** Jobs that may be stopped only by a reclaim. */
  private readonly reclaimOnly = new Set<string>();
  private live = 0;

  constructor(
    running: readonly RunningJob[],
    teams: readonly Team[],
    private readonly quota: QuotaLedger,
    now: number,
    rules: PreemptionRules,
    starvationBoundS: number,
  ) {
    this.borrowed = borrowedJobs(teams, running);
    for (const candidate of running) {
      if (now - candidate.startedAt < rules.graceS) continue;
      // A job that started only after waiting out the starvation bound is stopped only to
      // return a lender its quota: for a higher class it would go back to the queue it has
      // already waited too long in.
      const starved = candidate.startedAt - waitingSince(candidate.job) >= starvationBoundS;
      if (starved && !this.borrowed.has(candidate.job.id)) continue;
      if (starved) this.reclaimOnly.add(candidate.job.id);
      const victims = this.byPool.get(candidate.placement.poolId) ?? [];
      // The reason is settled per waiting job in `for`; this one only sorts.
      victims.push({
        running: candidate,
        reason: 'higher-class',
        costGpuS: restartCostGpuS(candidate, now, rules),
      });
      this.byPool.set(candidate.placement.poolId, victims);
    }
    for (const victims of this.byPool.values()) {
      victims.sort(byPreference);
      this.live += victims.length;
    }
  }

  /** True if no running job may be preempted for anyone any more. */
  get isEmpty(): boolean {
    return this.live === 0;
  }

  /**
   * The jobs in `poolId` that may be stopped for `job`, best victim first. With `unpacked`, a
   * reclaim may also take a borrowing team's jobs that hold its own quota: for when its
   * borrowed jobs are spread over nodes so that stopping them frees no node the job fits.
   */
  for(job: Job, poolId: string, unpacked = false): Victim[] {
    const jobClass = classOf(job);
    const mayReclaim = this.quota.fitsQuota(job.team, job.resources.gpuType, job.resources.gpus);
    if (!jobClass.mayPreempt && !mayReclaim) return [];
    if (unpacked && !mayReclaim) return [];
    // Which victims are eligible depends on the job's team: its own work, and its quota.
    const key = `${poolId}|${job.priorityClass}|${job.resources.gpuType}|${job.team}|${mayReclaim}|${unpacked}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = this.eligibleFor(job, poolId, mayReclaim, unpacked);
      this.answers.set(key, answer);
    }
    return answer;
  }

  /**
   * A running job may be stopped for `job`:
   * - higher-class: the job's class may preempt, the victim is preemptible and of a lower
   *   class, and it is of the job's own team or runs on quota its team borrowed (Kueue:
   *   priority preemption within a ClusterQueue, and across ClusterQueues only of borrowed
   *   work);
   * - reclaim-quota: the job stays within its team's nominal quota, and the victim is work
   *   another team runs on borrowed quota, whatever its class (Kueue's reclaimWithinCohort:
   *   Any). Borrowing is a loan of idle capacity, so the owner gets it back within one grace
   *   period plus a round per `maxPreemptionsPerRound` victims, even from critical work.
   * Another team's work is taken only if it is borrowed (`borrowedJobs`: a team's quota goes
   * to its earliest-started jobs), unless a reclaim finds no room otherwise (`unpacked`), and
   * only until that team is back within its quota (`greedyEviction`). That rules out
   * preemption cycles: a job that started within its team's quota (as every reclaimer does)
   * stays within it, so the borrower it stopped can never take it back.
   */
  private eligibleFor(job: Job, poolId: string, mayReclaim: boolean, unpacked: boolean): Victim[] {
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
    for (const victim of this.byPool.get(poolId) ?? []) {
      const { job: running } = victim.running;
      if (this.gone.has(running.id)) continue;
      const victimClass = classOf(running);
      const ownTeam = running.team === job.team;
      const outranked = isPreemptible(running) && victimClass.value < jobClass.value;
      const lending = !ownTeam && isBorrowing(running.team);
      const lent = lending && this.borrowed.has(running.id);
      const byClass = outranked && !this.reclaimOnly.has(running.id);
      if (jobClass.mayPreempt && byClass && (ownTeam || lent)) {
        eligible.push(victim);
      } else if (mayReclaim && (lent || (unpacked && lending))) {
        eligible.push({ ...victim, reason: 'reclaim-quota' });
      }
    }
    return eligible;
  }

  remove(jobId: string): void {
    if (this.gone.has(jobId)) return;
    this.gone.add(jobId);
    this.live--;
    this.answers.clear();
  }
}

/**
 * GPU-seconds a preemption throws away. A checkpoint older than the attempt (saved by an
 * earlier attempt, which this one resumed from) saves nothing of this attempt's work.
 */
export function restartCostGpuS(candidate: RunningJob, now: number, rules: PreemptionRules): number {
  const lostS = Math.max(0, now - Math.max(candidate.lastCheckpointAt, candidate.startedAt));
  return candidate.job.resources.gpus * (lostS + rules.restartOverheadS);
}

/**
 * The cheapest set of victims in one pool whose removal lets `job` start. A single-node job
 * tries each node on its own (victims there only), so freeing a little on many nodes never
 * passes for room; a gang takes candidates from the whole pool. Either way candidates go
 * from lowest class and cheapest restart up until the job fits, then any victim the job can
 * do without is dropped, dearest first, so the set is minimal.
 */
export function evictionIn(
  pool: PoolCapacity,
  job: Job,
  candidates: readonly Victim[],
  quota: QuotaLedger,
  maxVictims: number,
  usable?: (node: number) => boolean,
): Eviction | undefined {
  if (job.resources.nodes > 1) return greedyEviction(pool, job, candidates, quota, maxVictims, usable);
  let best: Eviction | undefined;
  for (let node = 0; node < pool.nodeCount; node++) {
    if (usable !== undefined && !usable(node)) continue;
    const onNode = candidates.filter((victim) => victim.running.placement.nodes.includes(node));
    if (onNode.length === 0) continue;
    const only = (candidate: number) => candidate === node;
    const eviction = greedyEviction(pool, job, onNode, quota, maxVictims, only);
    if (eviction !== undefined && (best === undefined || totalCost(eviction) < totalCost(best)))
      best = eviction;
  }
  return best;
}

function greedyEviction(
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
    // Another team's work is taken only while that team is borrowing (Kueue's view too).
    const stillBorrowing =
      quota.gpusHeld(team, resources.gpuType) - freed > quota.quota(team, resources.gpuType);
    if (team !== job.team && !stillBorrowing) continue;
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
