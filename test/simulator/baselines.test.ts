import { describe, expect, test } from 'vitest';
import { BatchFairsharePolicy } from '../../simulator/baselines/batch-fairshare';
import { FifoPolicy } from '../../simulator/baselines/fifo';
import { StrictPriorityPolicy } from '../../simulator/baselines/strict-priority';
import { job, NOW, pool, running, state, team } from '../scheduler/fixtures';

const started = (decision: { starts: readonly { jobId: string }[] }) => decision.starts.map((s) => s.jobId);
const pools = [pool('od', 1)];
const busy = [running(job('r', { gpus: 4, team: 'c', priorityClass: 'critical' }), 'od', [0])];

describe('baselines', () => {
  test('GIVEN an old job that does not fit WHEN FIFO decides THEN younger jobs wait behind it', () => {
    const pending = [job('old', { gpus: 8, submitTime: NOW - 100 }), job('young', { submitTime: NOW - 10 })];
    expect(started(new FifoPolicy().decide(state({ pools, running: busy, pending }), NOW))).toEqual([]);
  });

  test('GIVEN an older standard and a younger critical job WHEN strict priority decides THEN critical starts', () => {
    const pending = [
      job('std', { gpus: 4, submitTime: NOW - 100 }),
      job('crit', { gpus: 4, priorityClass: 'critical' }),
    ];
    expect(started(new StrictPriorityPolicy().decide(state({ pools, running: busy, pending }), NOW))).toEqual(
      ['crit'],
    );
  });

  test('GIVEN team a used the cluster recently WHEN Batch fair share decides THEN team b is served first', () => {
    const usage = { at: NOW - 60, byTeam: { a: { gpus: 8 * 3600, cpus: 0, memoryMiB: 0 } } };
    const pending = [
      job('a1', { gpus: 4, team: 'a', submitTime: NOW - 100 }),
      job('b1', { gpus: 4, team: 'b' }),
    ];
    const policy = new BatchFairsharePolicy({
      shareDecaySeconds: 3600,
      computeReservation: 0,
      weightFactors: {},
    });
    expect(started(policy.decide(state({ pools, running: busy, pending, usage }), NOW))).toEqual(['b1']);
  });

  test('GIVEN an inactive share and computeReservation 50 WHEN one share is active THEN half the cluster stays free', () => {
    const teams = [team('a', 8), team('b', 8)];
    const pending = [1, 2, 3, 4].map((n) => job(`a${n}`, { gpus: 4, submitTime: NOW - n }));
    const policy = new BatchFairsharePolicy({
      shareDecaySeconds: 3600,
      computeReservation: 50,
      weightFactors: {},
    });
    expect(policy.decide(state({ pools: [pool('od', 2)], teams, pending }), NOW).starts).toHaveLength(2);
  });
});
