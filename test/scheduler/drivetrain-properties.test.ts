import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ClusterCapacity } from '../../scheduler/capacity';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { borrowedJobs, QuotaLedger } from '../../scheduler/drivetrain/quota';
import { type ClusterState, classOf, isPreemptible, type Job, type RunningJob } from '../../scheduler/model';
import { PRIORITY_CLASS_NAMES } from '../../scheduler/priority-classes';
import { job, NOW, pool, running, team } from './fixtures';

const policy = new DrivetrainPolicy();
/** Conservative backfill of the starving queue, decided two days on so every job is past the bound. */
const planningStarving = new DrivetrainPolicy({
  ...DEFAULT_DRIVETRAIN_CONFIG,
  starvation: { ...DEFAULT_DRIVETRAIN_CONFIG.starvation, plannedPerRound: 64, patientPastBound: true },
});
const DECIDERS = [
  ['default', policy, NOW],
  ['starving queue planned', planningStarving, NOW + 2 * 86_400],
] as const;
const TEAMS = ['a', 'b', 'c'];

/** A random cluster: two pools, running work placed node by node, and a queue. */
const clusterState = fc
  .record({
    odNodes: fc.integer({ min: 1, max: 4 }),
    spotNodes: fc.integer({ min: 0, max: 2 }),
    quotas: fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 3, maxLength: 3 }),
    running: fc.array(
      fc.record({
        team: fc.constantFrom(...TEAMS),
        cls: fc.constantFrom(...PRIORITY_CLASS_NAMES),
        gpus: fc.constantFrom(1, 2, 4, 8),
        lostS: fc.integer({ min: 0, max: 3600 }),
      }),
      { maxLength: 12 },
    ),
    pending: fc.array(
      fc.record({
        team: fc.constantFrom(...TEAMS),
        cls: fc.constantFrom(...PRIORITY_CLASS_NAMES),
        gpus: fc.constantFrom(1, 2, 4, 8, 16),
        waitedS: fc.integer({ min: 0, max: 86_400 }),
      }),
      { maxLength: 20 },
    ),
  })
  .map(({ odNodes, spotNodes, quotas, running: runs, pending }): ClusterState => {
    const pools = [pool('od', odNodes), ...(spotNodes > 0 ? [pool('spot', spotNodes, 'spot')] : [])];
    const capacity = ClusterCapacity.of(pools, []);
    const placed: RunningJob[] = [];
    runs.forEach((r, i) => {
      const base = job(`r${i}`, { team: r.team, priorityClass: r.cls, gpus: r.gpus });
      for (const p of capacity.pools) {
        if (p.pool.capacityType === 'spot' && !isPreemptible(base)) continue;
        const nodes = p.findNodes(base.resources);
        if (nodes === undefined) continue;
        p.allocate(base.resources, nodes);
        placed.push(running(base, p.pool.id, nodes, r.lostS));
        return;
      }
    });
    return {
      pools,
      teams: TEAMS.map((id, i) => team(id, quotas[i] ?? 0)),
      running: placed,
      pending: pending.map((p, i) =>
        job(`p${i}`, { team: p.team, priorityClass: p.cls, gpus: p.gpus, submitTime: NOW - p.waitedS }),
      ),
      usage: { at: NOW - 60, byTeam: {} },
    };
  });

const pendingById = (state: ClusterState) => new Map(state.pending.map((j) => [j.id, j]));
const RUNS = { numRuns: 150 };

describe('drivetrain policy properties', () => {
  test.each(DECIDERS)('capacity is never over-allocated (%s)', (_name, decider, at) => {
    fc.assert(
      fc.property(clusterState, (state) => {
        const decision = decider.decide(state, at);
        const capacity = ClusterCapacity.of(state.pools, state.running);
        const runningById = new Map(state.running.map((r) => [r.job.id, r]));
        for (const p of decision.preemptions) {
          const victim = runningById.get(p.jobId)!;
          capacity.release(victim.job.resources, victim.placement);
        }
        const pending = pendingById(state);
        // allocate() throws on any over-allocated node.
        for (const s of decision.starts) capacity.allocate(pending.get(s.jobId)!.resources, s.placement);
      }),
      RUNS,
    );
  });

  test.each(DECIDERS)('gang jobs start on all their nodes or not at all (%s)', (_name, decider, at) => {
    fc.assert(
      fc.property(clusterState, (state) => {
        const pending = pendingById(state);
        for (const s of decider.decide(state, at).starts) {
          const { nodes } = pending.get(s.jobId)!.resources;
          expect(new Set(s.placement.nodes).size).toBe(nodes);
        }
      }),
      RUNS,
    );
  });

  test('a quota is exceeded only by borrowing idle capacity, never by reclaiming', () => {
    fc.assert(
      fc.property(clusterState, (state) => {
        const decision = policy.decide(state, NOW);
        const quota = new QuotaLedger(state.teams, state.running);
        const pending = pendingById(state);
        const runningById = new Map(state.running.map((r) => [r.job.id, r.job]));
        // Replay the round in order: each start comes right after the preemptions made for it.
        for (const s of decision.starts) {
          const j = pending.get(s.jobId)!;
          const forJob = decision.preemptions.filter((p) => p.forJobId === j.id);
          for (const p of forJob) {
            const victim = runningById.get(p.jobId)!;
            quota.add(victim.team, 'v100', -victim.resources.gpus);
          }
          if (forJob.some((p) => p.reason === 'reclaim-quota')) {
            expect(quota.fitsQuota(j.team, 'v100', j.resources.gpus)).toBe(true);
          }
          quota.add(j.team, 'v100', j.resources.gpus);
        }
      }),
      RUNS,
    );
  });

  test('a reclaim returns quota within one round', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 2, 4, 8), (nodes, gpus) => {
        // Team b borrowed the whole cluster with standard work; team a owns half of it.
        const half = (nodes * 8) / 2;
        const borrowed = Array.from({ length: nodes }, (_, n) =>
          running(job(`b${n}`, { team: 'b', gpus: 8 }), 'od', [n]),
        );
        const owner = job('a1', { team: 'a', gpus: Math.min(gpus, half) });
        const state: ClusterState = {
          pools: [pool('od', nodes)],
          teams: [team('a', half), team('b', half)],
          running: borrowed,
          pending: [owner],
          usage: { at: NOW - 60, byTeam: {} },
        };
        expect(policy.decide(state, NOW).starts.map((s) => s.jobId)).toEqual(['a1']);
      }),
    );
  });

  test('a higher class never waits behind a lower preemptible class it could preempt', () => {
    fc.assert(
      fc.property(clusterState, (state) => {
        const decision = policy.decide(state, NOW);
        if (decision.preemptions.length >= DEFAULT_DRIVETRAIN_CONFIG.preemption.impatientVictims) return;
        const preempted = new Set(decision.preemptions.map((p) => p.jobId));
        const stillRunning = state.running.filter((r) => !preempted.has(r.job.id));
        const pending = pendingById(state);
        for (const { jobId, reason } of decision.waiting) {
          // Held back for an earlier gang's reservation, not behind lower-class work.
          if (reason.code === 'gang-reservation') continue;
          const waiting = pending.get(jobId)!;
          if (!classOf(waiting).mayPreempt || waiting.resources.nodes > 1) continue;
          // Any single node whose preemptible lower-class work alone would make room for it.
          // Nodes started on this round, or held for an earlier gang (EASY), are spoken for.
          const spokenFor = decision.starts.map((s) => s.placement);
          if (decision.reservation) spokenFor.push(decision.reservation.placement);
          for (const node of singleNodeRooms(state, stillRunning, waiting, spokenFor)) {
            expect.fail(`${jobId} waits while node ${node} could be cleared for it`);
          }
        }
      }),
      RUNS,
    );
  });

  test('decisions are identical for identical input', () => {
    fc.assert(
      fc.property(clusterState, (state) => {
        expect(policy.decide(state, NOW)).toEqual(policy.decide(structuredClone(state), NOW));
      }),
      { numRuns: 50 },
    );
  });
});

/**
 * Nodes of an on-demand pool where `waiting` would fit if the lower-class preemptible jobs
 * there (past their grace) were stopped, and nothing started on that node this round.
 */
function singleNodeRooms(
  state: ClusterState,
  stillRunning: readonly RunningJob[],
  waiting: Job,
  newPlacements: readonly { poolId: string; nodes: readonly number[] }[],
): string[] {
  const rooms: string[] = [];
  const borrowed = borrowedJobs(state.teams, state.running);
  const quota = new QuotaLedger(state.teams, stillRunning);
  for (const p of state.pools) {
    if (p.capacityType === 'spot' && !isPreemptible(waiting)) continue;
    for (let node = 0; node < p.nodeCount; node++) {
      if (newPlacements.some((pl) => pl.poolId === p.id && pl.nodes.includes(node))) continue;
      const onNode = stillRunning.filter(
        (r) => r.placement.poolId === p.id && r.placement.nodes.includes(node),
      );
      // Another team's work may be taken only where it runs on quota that team borrowed.
      const stays = onNode.filter(
        (r) =>
          !(isPreemptible(r.job) && classOf(r.job).value < classOf(waiting).value) ||
          r.job.priorityClass === 'critical' ||
          NOW - r.startedAt < DEFAULT_DRIVETRAIN_CONFIG.preemption.graceS ||
          (r.job.team !== waiting.team &&
            !(borrowed.has(r.job.id) && quota.isBorrowing(r.job.team, r.job.resources.gpuType))),
      );
      // A job that has not waited out its patience stops only a few jobs at a time.
      const victims = onNode.length - stays.length;
      const hasVictim = victims > 0 && victims <= DEFAULT_DRIVETRAIN_CONFIG.preemption.impatientVictims;
      const used = stays.reduce((sum, r) => sum + r.job.resources.gpus / r.job.resources.nodes, 0);
      if (hasVictim && used + waiting.resources.gpus <= p.node.gpus) rooms.push(`${p.id}/${node}`);
    }
  }
  return rooms;
}
