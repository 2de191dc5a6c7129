import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { backloggedState } from '../../bench/decision-round';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { ClusterState, Team } from '../../scheduler/model';
import { DEFAULT_SIZING, sizeCluster } from '../../simulator/cluster-sizing';
import { simulate } from '../../simulator/engine';
import { syntheticTraceCsv } from '../../simulator/synthetic-trace';
import { parseTrace, summarizeTrace } from '../../simulator/trace';
import { DEFAULT_WORKLOAD_RULE, toWorkload } from '../../simulator/workload';
import { job, NOW, pool } from './fixtures';

/**
 * Golden digests of whole decisions (starts, preemptions, every why-pending reason, holds,
 * usage) on fixed generated states, recorded before the round's data structures were made
 * faster. A speed-up must leave them unchanged; a change of policy changes them on purpose,
 * and then the new digests are recorded here with it.
 */
const digest = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

const TEAMS: Team[] = ['a', 'b', 'c', 'd', 'e'].map((id, n) => ({
  id,
  weight: 1 + (n % 2),
  nominalQuota: { v100: 16 + 8 * n },
}));
const POOLS = [pool('od', 8), pool('spot', 6, 'spot')];

function backlog(pending: number): ClusterState {
  return backloggedState(POOLS, TEAMS, pending, NOW);
}

describe('decisions are unchanged by the round data structures', () => {
  test('GIVEN a full cluster and 3,000 pending WHEN one round decides THEN its decision has the recorded digest', () => {
    const policy = new DrivetrainPolicy();
    const state = backlog(3000);
    expect(digest(policy.decide(state, NOW))).toBe('14685139ae2b704f');
    const halfFree = { ...state, running: state.running.filter((_, n) => n % 2 === 0) };
    expect(digest(policy.decide(halfFree, NOW))).toBe('4b89a8a13734d0f4');
    const richTeams = { ...state, teams: TEAMS.map((team) => ({ ...team, nominalQuota: { v100: 1000 } })) };
    expect(digest(policy.decide(richTeams, NOW))).toBe('ea17a85ca5cd06ef');
  });

  test('GIVEN a session WHEN jobs finish, arrive and are withdrawn between rounds THEN every decision has the recorded digest', () => {
    const state = backlog(1500);
    const session = new DrivetrainPolicy().open(state);
    const decisions: unknown[] = [];
    const finished = new Set<string>();
    for (let round = 0; round < 6; round++) {
      const now = NOW + round * 600;
      const decision = session.decide(now);
      decisions.push(decision);
      for (const { jobId } of decision.preemptions) finished.add(jobId);
      // Two jobs end each round: the first started this session, or the oldest.
      const ended = [...decision.starts.map(({ jobId }) => jobId), ...state.running.map((run) => run.job.id)];
      for (const jobId of ended.filter((id) => !finished.has(id)).slice(0, 2)) {
        session.finish(jobId);
        finished.add(jobId);
      }
      for (const { jobId } of decision.waiting.filter((_, n) => n % 97 === round)) session.withdraw(jobId);
      for (let n = 0; n < 40; n++) {
        const gpus = [1, 2, 8, 16][n % 4]!;
        session.submit(
          job(`r${round}-${n}`, { team: TEAMS[n % TEAMS.length]!.id, gpus, submitTime: now - n }),
        );
      }
    }
    expect(digest(decisions)).toBe('2322c5970db76703');
  });

  test('GIVEN a synthetic trace WHEN replayed THEN every job starts and ends as recorded', () => {
    const records = parseTrace(syntheticTraceCsv({ jobs: 400, seed: 11, teams: 6, meanInterarrivalS: 90 }));
    const teams = [...new Set(records.map((record) => record.cluster))];
    const cluster = sizeCluster(summarizeTrace(records), teams, DEFAULT_WORKLOAD_RULE, {
      ...DEFAULT_SIZING,
      spotShare: 0.3,
    });
    const workload = toWorkload(records, { ...DEFAULT_WORKLOAD_RULE, node: cluster.node, estimates: 'user' });
    const result = simulate(workload, new DrivetrainPolicy(), {
      pools: cluster.pools,
      teams: cluster.teams,
      checkpointIntervalS: 1800,
      restartOverheadS: 120,
    });
    expect(digest(result.outcomes)).toBe('9aada4f59dd20096');
  });
});
