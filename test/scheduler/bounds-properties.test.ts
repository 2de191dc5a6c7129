import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ClusterCapacity } from '../../scheduler/capacity';
import { waitingSince } from '../../scheduler/drivetrain/pending-index';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { DrivetrainConfig } from '../../scheduler/drivetrain/round';
import type { ClusterState, Job, Pool, RunningJob } from '../../scheduler/model';
import type { Decision, PolicySession, SchedulingPolicy } from '../../scheduler/policy';
import { PRIORITY_CLASS_NAMES } from '../../scheduler/priority-classes';
import { simulate } from '../../simulator/engine';
import type { WorkloadJob } from '../../simulator/workload';
import { job, NOW, pool, running, team } from './fixtures';

const policy = new DrivetrainPolicy();
const TEAMS = ['a', 'b', 'c'];
const CPU_POOL: Pool = {
  id: 'cpu',
  gpuType: 'cpu',
  capacityType: 'on-demand',
  nodeCount: 2,
  node: { gpus: 0, cpus: 32, memoryMiB: 131_072 },
};

/** A job asking for GPUs, or (gpus 0) for CPUs only, with its own vCPU and memory shape. */
function shaped(
  id: string,
  shape: {
    team: string;
    cls: (typeof PRIORITY_CLASS_NAMES)[number];
    gpus: number;
    cpus: number;
    memGiB: number;
    waitedS: number;
  },
): Job {
  const base = job(id, { team: shape.team, priorityClass: shape.cls, submitTime: NOW - shape.waitedS });
  const nodes = Math.max(1, Math.ceil(shape.gpus / 8));
  return {
    ...base,
    resources: {
      gpus: shape.gpus,
      gpuType: shape.gpus > 0 ? 'v100' : 'cpu',
      cpus: shape.cpus * nodes,
      memoryMiB: shape.memGiB * 1024 * nodes,
      nodes,
    },
  };
}

const jobShape = fc.record({
  team: fc.constantFrom(...TEAMS),
  cls: fc.constantFrom(...PRIORITY_CLASS_NAMES),
  gpus: fc.constantFrom(0, 1, 2, 4, 8, 16),
  cpus: fc.constantFrom(1, 4, 16, 32, 64),
  memGiB: fc.constantFrom(1, 16, 128, 512),
  waitedS: fc.integer({ min: 0, max: 3 * 86_400 }),
});

/** Random GPU and CPU pools, running work placed where it fits, and a mixed queue. */
const mixedState = fc
  .record({ running: fc.array(jobShape, { maxLength: 10 }), pending: fc.array(jobShape, { maxLength: 20 }) })
  .map(({ running: runs, pending }): ClusterState => {
    const pools = [pool('od', 2), pool('spot', 1, 'spot'), CPU_POOL];
    const capacity = ClusterCapacity.of(pools, []);
    const placed: RunningJob[] = [];
    runs.forEach((shape, i) => {
      const base = shaped(`r${i}`, shape);
      for (const p of capacity.pools) {
        if (p.pool.gpuType !== base.resources.gpuType) continue;
        const nodes = p.findNodes(base.resources);
        if (nodes === undefined) continue;
        p.allocate(base.resources, nodes);
        placed.push(running(base, p.pool.id, nodes));
        return;
      }
    });
    return {
      pools,
      teams: TEAMS.map((id) => team(id, 8)),
      running: placed,
      pending: pending.map((shape, i) => shaped(`p${i}`, shape)),
      usage: { at: NOW - 60, byTeam: {} },
    };
  });

describe('resource bounds', () => {
  test('GPUs, vCPUs and memory are never over-allocated, in GPU and CPU-only pools alike', () => {
    fc.assert(
      fc.property(mixedState, (state) => {
        const decision = policy.decide(state, NOW);
        const capacity = ClusterCapacity.of(state.pools, state.running);
        const runningById = new Map(state.running.map((r) => [r.job.id, r]));
        for (const p of decision.preemptions) {
          const victim = runningById.get(p.jobId)!;
          capacity.release(victim.job.resources, victim.placement);
        }
        const pending = new Map(state.pending.map((j) => [j.id, j]));
        // allocate() throws as soon as any node's GPUs, vCPUs or memory go below zero.
        for (const s of decision.starts) {
          const started = pending.get(s.jobId)!;
          expect(capacity.pool(s.placement.poolId).pool.gpuType).toBe(started.resources.gpuType);
          expect(new Set(s.placement.nodes).size).toBe(started.resources.nodes);
          capacity.allocate(started.resources, s.placement);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('a team gets its lent quota back within the bound (patience plus a round), whatever the class of the borrowers', () => {
    const { maxPreemptionsPerRound, preemption } = DEFAULT_DRIVETRAIN_CONFIG;
    const roundS = 60;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.constantFrom(...PRIORITY_CLASS_NAMES), { minLength: 48, maxLength: 48 }),
        fc.constantFrom(1, 2, 4, 8),
        (nodes, classes, gpus) => {
          // Team b borrowed the whole cluster in 1-GPU jobs of any class, past their grace.
          const borrowed = Array.from({ length: nodes * 8 }, (_, n) =>
            running(job(`b${n}`, { team: 'b', priorityClass: classes[n % classes.length]! }), 'od', [
              Math.floor(n / 8),
            ]),
          );
          const half = (nodes * 8) / 2;
          const owner = job('a1', { team: 'a', gpus: Math.min(gpus, half) });
          const session = policy.open({
            pools: [pool('od', nodes)],
            teams: [team('a', half), team('b', half)],
            running: borrowed,
            pending: [owner],
            usage: { at: NOW - 60, byTeam: {} },
          });
          // Cheap reclaims happen at once; one that must stop many borrowers waits out the
          // owner's patience, then stops up to maxPreemptionsPerRound per round: the bound.
          const extraRounds = Math.ceil(owner.resources.gpus / maxPreemptionsPerRound);
          const times = [
            0,
            roundS,
            ...Array.from({ length: extraRounds + 1 }, (_, n) => preemption.patienceS + n * roundS),
          ];
          let startedIn: number | undefined;
          for (const offset of times) {
            if (startedIn !== undefined) break;
            const decision = session.decide(owner.submitTime + offset);
            if (decision.starts.some((s) => s.jobId === 'a1')) startedIn = offset;
          }
          expect(startedIn).toBeDefined();
        },
      ),
      { numRuns: 100 },
    );
  });
});

/**
 * Watches a Drivetrain session in a simulation: the first hold the oldest pending job gets
 * once it is past the bound, and when each job starts.
 */
class HoldWatcher implements SchedulingPolicy {
  readonly name = 'watched-drivetrain';
  readonly firstHold = new Map<string, number>();
  readonly startedAt = new Map<string, number>();
  private readonly submitted = new Map<string, Job>();

  constructor(
    private readonly inner: SchedulingPolicy,
    private readonly boundS: number,
  ) {}

  decide(state: ClusterState, now: number): Decision {
    return this.inner.decide(state, now);
  }

  open(state: ClusterState): PolicySession {
    const session = this.inner.open(state);
    const watch = (decision: Decision, now: number) => {
      for (const start of decision.starts) this.startedAt.set(start.jobId, now);
      let oldest: Job | undefined;
      for (const j of this.submitted.values())
        if (!this.startedAt.has(j.id) && (oldest === undefined || waitingSince(j) < waitingSince(oldest)))
          oldest = j;
      const hold = decision.reservations?.find((r) => r.jobId === oldest?.id);
      if (hold && oldest && now - waitingSince(oldest) >= this.boundS && !this.firstHold.has(hold.jobId))
        this.firstHold.set(hold.jobId, hold.untilS);
      return decision;
    };
    return {
      submit: (j) => {
        this.submitted.set(j.id, j);
        session.submit(j);
      },
      withdraw: (id) => session.withdraw(id),
      finish: (id) => session.finish(id),
      checkpointed: (id, at) => session.checkpointed(id, at),
      decide: (now, options) => watch(session.decide(now, options), now),
    };
  }
}

describe.each<[string, Pick<DrivetrainConfig, 'holdPlanning'> & Partial<DrivetrainConfig['starvation']>]>([
  ['limits', {}],
  // Holds placed and backfilled by predicted run times still promise what the limits promise.
  ['predicted run times', { holdPlanning: { easy: 'predicted', starving: 'both' } }],
  // Planned starts of the rest of the starving queue never delay a held job.
  ['limits, the rest of the starving queue planned', { plannedPerRound: 64, patientPastBound: true }],
])('starvation bound, holds planned from %s', (_planning, { holdPlanning, ...starvation }) => {
  const boundS = 3600;
  const bounded = new DrivetrainPolicy({
    ...DEFAULT_DRIVETRAIN_CONFIG,
    starvation: { boundS, maxReservations: 4, ...starvation },
    ...(holdPlanning && { holdPlanning }),
  });
  const workload = fc.array(
    fc.record({
      team: fc.constantFrom(...TEAMS),
      gpus: fc.constantFrom(1, 2, 4, 8, 16),
      durationS: fc.integer({ min: 60, max: 4 * 3600 }),
      limitFactor: fc.constantFrom(1, 1.5, 4),
      gapS: fc.integer({ min: 0, max: 1800 }),
    }),
    { minLength: 5, maxLength: 40 },
  );

  test('a job past the bound starts no later than the first hold it gets, so its wait is bounded', () => {
    fc.assert(
      fc.property(workload, (specs) => {
        let clock = NOW;
        // Standard work of three teams, each with quota for the whole cluster: nothing is
        // borrowed or preempted, so every attempt ends within its declared limit.
        const jobs: WorkloadJob[] = specs.map((spec, i) => {
          clock += spec.gapS;
          const base = job(`j${i}`, { team: spec.team, gpus: spec.gpus, submitTime: clock });
          return {
            job: { ...base, maxRuntimeS: Math.ceil(spec.durationS * spec.limitFactor) },
            durationS: spec.durationS,
          };
        });
        const watcher = new HoldWatcher(bounded, boundS);
        const pools = [pool('od', 2)];
        simulate(jobs, watcher, {
          pools,
          teams: TEAMS.map((id) => team(id, 16)),
          checkpointIntervalS: 1800,
          restartOverheadS: 120,
        });
        for (const [jobId, untilS] of watcher.firstHold) {
          expect(watcher.startedAt.get(jobId)!).toBeLessThanOrEqual(untilS);
        }
      }),
      { numRuns: 60 },
    );
  });
});
