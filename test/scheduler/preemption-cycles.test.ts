import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { Job } from '../../scheduler/model';
import { PRIORITY_CLASS_NAMES } from '../../scheduler/priority-classes';
import { job, NOW, pool, running, team } from './fixtures';

const policy = new DrivetrainPolicy();
const TEAMS = ['a', 'b', 'c'];
/** Rounds far enough apart that every job is past its grace at the next one. */
const ROUND_S = DEFAULT_DRIVETRAIN_CONFIG.preemption.graceS + 60;

const jobShape = fc.record({
  team: fc.constantFrom(...TEAMS),
  cls: fc.constantFrom(...PRIORITY_CLASS_NAMES),
  gpus: fc.constantFrom(1, 2, 4, 8),
});

/**
 * Random teams, quotas and jobs that never finish, decided round after round: preempted jobs
 * go back to the queue. Returns each preemption as [victim, the job it was stopped for].
 */
function preemptionsOver(
  nodes: number,
  quotas: readonly number[],
  runs: readonly { team: string; cls: Job['priorityClass']; gpus: number }[],
  queued: readonly { team: string; cls: Job['priorityClass']; gpus: number }[],
  rounds: number,
): [string, string][] {
  let nextNode = 0;
  const placed = runs.flatMap((r, i) => {
    if (nextNode >= nodes) return [];
    const base = job(`r${i}`, { team: r.team, priorityClass: r.cls, gpus: r.gpus });
    return [running(base, 'od', [nextNode++])];
  });
  const byId = new Map<string, Job>(placed.map((r) => [r.job.id, { ...r.job, state: 'pending' }]));
  const pending = queued.map((q, i) => job(`p${i}`, { team: q.team, priorityClass: q.cls, gpus: q.gpus }));
  for (const j of pending) byId.set(j.id, j);
  const session = policy.open({
    pools: [pool('od', nodes)],
    teams: TEAMS.map((id, i) => team(id, quotas[i] ?? 0)),
    running: placed,
    pending,
    usage: { at: NOW - 60, byTeam: {} },
  });
  const seen: [string, string][] = [];
  for (let round = 0; round < rounds; round++) {
    const decision = session.decide(NOW + round * ROUND_S, { explain: false });
    for (const { jobId, forJobId } of decision.preemptions) {
      seen.push([jobId, forJobId]);
      session.submit(byId.get(jobId)!);
    }
  }
  return seen;
}

describe('preemption cycles', () => {
  test('no job is preempted for a job that it later preempts back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 3, maxLength: 3 }),
        fc.array(jobShape, { maxLength: 4 }),
        fc.array(jobShape, { minLength: 1, maxLength: 8 }),
        (nodes, quotas, runs, queued) => {
          const seen = preemptionsOver(nodes, quotas, runs, queued, 12);
          const pairs = new Set(seen.map(([victim, forJob]) => `${victim}>${forJob}`));
          for (const [victim, forJob] of seen) expect(pairs.has(`${forJob}>${victim}`)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('GIVEN a preemptible job within quota that reclaims borrowed critical work WHEN rounds go on THEN the critical job does not preempt it back', () => {
    // Team b borrowed team a's node with critical work; a's sweep reclaims it.
    const seen = preemptionsOver(
      1,
      [8, 0, 0],
      [{ team: 'b', cls: 'critical', gpus: 8 }],
      [{ team: 'a', cls: 'preemptible', gpus: 8 }],
      6,
    );

    expect(seen).toEqual([['r0', 'p0']]);
  });
});
