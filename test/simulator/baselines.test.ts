import { describe, expect, test } from 'vitest';
import { BatchFairsharePolicy } from '../../simulator/baselines/batch-fairshare';
import { FifoPolicy } from '../../simulator/baselines/fifo';
import { GpuProfile } from '../../simulator/baselines/gpu-profile';
import { flavorQuotas, KueuePolicy } from '../../simulator/baselines/kueue';
import { fairTreeFactors, SlurmPolicy } from '../../simulator/baselines/slurm';
import { StrictPriorityPolicy } from '../../simulator/baselines/strict-priority';
import { job, NOW, pool, running, state, team } from '../scheduler/fixtures';

const started = (decision: { starts: readonly { jobId: string }[] }) => decision.starts.map((s) => s.jobId);
const pools = [pool('od', 1)];
// Half a node busy until NOW + 2 h.
const busy = [
  {
    ...running(job('r', { gpus: 4, team: 'c', priorityClass: 'critical', maxRuntimeS: 3 * 3600 }), 'od', [0]),
    startedAt: NOW - 3600,
  },
];
const batch = (overrides = {}) =>
  new BatchFairsharePolicy({
    shareDecaySeconds: 3600,
    computeReservation: 0,
    weightFactors: {},
    ...overrides,
  });

describe('FIFO and strict priority with EASY backfill', () => {
  test('GIVEN an old job that does not fit WHEN a younger job would outlast its hold THEN the younger job waits', () => {
    const pending = [
      job('old', { gpus: 8, submitTime: NOW - 100 }),
      job('young', { submitTime: NOW - 10, maxRuntimeS: 4 * 3600 }),
    ];
    const decision = new FifoPolicy().decide(state({ pools, running: busy, pending }), NOW);
    expect(started(decision)).toEqual([]);
    expect(decision.reservation).toMatchObject({ jobId: 'old', untilS: NOW + 2 * 3600 });
  });

  test('GIVEN an old job that does not fit WHEN a younger job ends before its hold THEN the younger job backfills', () => {
    const pending = [
      job('old', { gpus: 8, submitTime: NOW - 100 }),
      job('young', { submitTime: NOW - 10, maxRuntimeS: 3600 }),
    ];
    expect(started(new FifoPolicy().decide(state({ pools, running: busy, pending }), NOW))).toEqual([
      'young',
    ]);
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
});

describe('AWS Batch fair share', () => {
  test('GIVEN team a used the cluster recently WHEN Batch fair share decides THEN team b is served first', () => {
    const usage = { at: NOW - 60, byTeam: { a: { gpus: 8 * 3600, cpus: 64 * 3600, memoryMiB: 0 } } };
    const pending = [
      job('a1', { gpus: 4, team: 'a', submitTime: NOW - 100 }),
      job('b1', { gpus: 4, team: 'b' }),
    ];
    expect(started(batch().decide(state({ pools, running: busy, pending, usage }), NOW))).toEqual(['b1']);
  });

  test('GIVEN a share whose first job does not fit WHEN a later smaller one does THEN Batch starts the smaller one', () => {
    const pending = [
      job('big', { gpus: 8, team: 'a', submitTime: NOW - 100 }),
      job('small', { gpus: 2, team: 'a', submitTime: NOW - 50 }),
    ];
    expect(started(batch().decide(state({ pools, running: busy, pending }), NOW))).toEqual(['small']);
  });

  test('GIVEN an older standard and a younger critical job of one share WHEN Batch decides THEN the higher scheduling priority goes first', () => {
    const pending = [
      job('std', { gpus: 4, team: 'a', submitTime: NOW - 100 }),
      job('crit', { gpus: 4, team: 'a', priorityClass: 'critical' }),
    ];
    expect(started(batch().decide(state({ pools, running: busy, pending }), NOW))).toEqual(['crit']);
  });

  test('GIVEN an inactive share and computeReservation 50 WHEN one share is active THEN half the cluster stays free', () => {
    const teams = [team('a', 8), team('b', 8)];
    const pending = [1, 2, 3, 4].map((n) => job(`a${n}`, { gpus: 4, submitTime: NOW - n }));
    const policy = batch({ computeReservation: 50 });
    expect(policy.decide(state({ pools: [pool('od', 2)], teams, pending }), NOW).starts).toHaveLength(2);
  });
});

describe('Slurm', () => {
  test('GIVEN one team with all the recorded usage WHEN Fair Tree ranks the accounts THEN it ranks last', () => {
    const factors = fairTreeFactors([team('a', 8), team('b', 8), team('c', 8)], {
      a: { cpus: 1000 },
      b: { cpus: 10 },
    });
    expect(Object.fromEntries(factors)).toEqual({ a: 1 / 3, b: 2 / 3, c: 1 });
  });

  test('GIVEN the top job does not fit WHEN the main scheduler runs THEN it stops, and backfill starts only what ends before the planned start', () => {
    const pending = [
      job('top', { gpus: 8, submitTime: NOW - 100 }),
      job('long', { submitTime: NOW - 50, maxRuntimeS: 86_400 }),
      job('short', { submitTime: NOW - 40, maxRuntimeS: 3600 }),
    ];
    expect(started(new SlurmPolicy().decide(state({ pools, running: busy, pending }), NOW))).toEqual([
      'short',
    ]);
  });

  test('GIVEN a team with heavy recent usage WHEN two equal jobs wait THEN the other team goes first', () => {
    const usage = { at: NOW - 60, byTeam: { a: { gpus: 8 * 86_400, cpus: 64 * 86_400, memoryMiB: 0 } } };
    const pending = [
      job('a1', { gpus: 4, team: 'a', submitTime: NOW - 3600 }),
      job('b1', { gpus: 4, team: 'b' }),
    ];
    expect(started(new SlurmPolicy().decide(state({ pools, running: busy, pending, usage }), NOW))).toEqual([
      'b1',
    ]);
  });

  test('GIVEN a planned start WHEN the profile is asked for the earliest fit THEN it skips steps without room', () => {
    const profile = new GpuProfile(0, 2, [
      { at: 100, gpus: 2 },
      { at: 300, gpus: 4 },
    ]);
    expect(profile.earliest(4, 500, 0, 10_000)).toBe(100);
    profile.take(4, 100, 600);
    expect(profile.minFree(0, 1000)).toBe(0);
    expect(profile.earliest(4, 100, 0, 10_000)).toBe(300);
    expect(profile.earliest(8, 100, 0, 200)).toBeUndefined();
  });
});

describe('Kueue', () => {
  test('GIVEN team b borrows all of team a quota WHEN a submits within its nominal quota THEN b is preempted (reclaimWithinCohort)', () => {
    const teams = [team('a', 8), team('b', 8)];
    const borrowed = [0, 1].map((node) =>
      running(job(`b${node}`, { team: 'b', gpus: 8, priorityClass: 'critical' }), 'od', [node]),
    );
    const decision = new KueuePolicy().decide(
      state({ teams, running: borrowed, pending: [job('a1', { team: 'a', gpus: 8 })] }),
      NOW,
    );
    expect(decision.preemptions).toEqual([
      expect.objectContaining({ forJobId: 'a1', reason: 'reclaim-quota' }),
    ]);
    expect(started(decision)).toEqual(['a1']);
  });

  test('GIVEN a head that does not fit WHEN a later workload of the same queue does THEN BestEffortFIFO admits the later one', () => {
    const pending = [
      job('big', { gpus: 8, team: 'a', submitTime: NOW - 100 }),
      job('small', { gpus: 2, team: 'a', submitTime: NOW - 50 }),
    ];
    const teams = [team('a', 4), team('c', 4)];
    expect(started(new KueuePolicy().decide(state({ pools, teams, running: busy, pending }), NOW))).toEqual([
      'small',
    ]);
  });

  test('GIVEN a team at its quota WHEN a higher-priority workload of its own arrives THEN it preempts its own lower-priority one', () => {
    const teams = [team('a', 8), team('b', 8)];
    const own = [
      running(job('a-low', { team: 'a', gpus: 8, priorityClass: 'preemptible' }), 'od', [0]),
      running(job('b0', { team: 'b', gpus: 8 }), 'od', [1]),
    ];
    const decision = new KueuePolicy().decide(
      state({
        teams,
        running: own,
        pending: [job('a-crit', { team: 'a', gpus: 8, priorityClass: 'critical' })],
      }),
      NOW,
    );
    expect(decision.preemptions).toEqual([{ jobId: 'a-low', forJobId: 'a-crit', reason: 'higher-class' }]);
  });

  test('GIVEN quotas per GPU type WHEN split over flavors THEN each pool gets its share and totals add up', () => {
    const quotas = flavorQuotas([pool('od', 1), pool('spot', 2, 'spot')], [team('a', 5), team('b', 19)]);
    expect(Object.fromEntries(quotas.get('a')!)).toEqual({ od: 2, spot: 3 });
    expect(Object.fromEntries(quotas.get('b')!)).toEqual({ od: 6, spot: 13 });
  });
});
