import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { RuntimePredictor } from '../../scheduler/drivetrain/runtime-prediction';
import { job, NOW, pool, running, state } from './fixtures';

const HOUR = 3600;
const WEEK = 7 * 24 * HOUR;

describe('RuntimePredictor', () => {
  test('GIVEN no ended job of the team THEN the prediction is the declared limit', () => {
    expect(new RuntimePredictor().predictedRuntime(job('j', { maxRuntimeS: WEEK }))).toBe(WEEK);
  });

  test('GIVEN three ended jobs THEN the prediction is the average of the last two, capped by the limit', () => {
    const predictor = new RuntimePredictor();
    for (const runtimeS of [50 * HOUR, 2 * HOUR, 4 * HOUR]) predictor.record(job('done'), runtimeS);
    expect(predictor.predictedRuntime(job('j', { maxRuntimeS: WEEK }))).toBe(3 * HOUR);
    expect(predictor.predictedRuntime(job('short', { maxRuntimeS: HOUR }))).toBe(HOUR);
    // Another team's history says nothing about this one.
    expect(predictor.predictedRuntime(job('k', { team: 'b', maxRuntimeS: WEEK }))).toBe(WEEK);
  });

  test('GIVEN an attempt that outlived its prediction THEN its end is extended stepwise, never past its limit', () => {
    const predictor = RuntimePredictor.from({ a: [HOUR, HOUR] });
    const run = running(job('r', { maxRuntimeS: 24 * HOUR }), 'od', [0]);
    // Started an hour ago and predicted to run an hour: it has just outlived the prediction.
    expect(predictor.expectedEnd(run, NOW)).toBe(run.startedAt + 2 * HOUR);
    expect(predictor.expectedEnd(run, NOW + 3 * HOUR)).toBe(run.startedAt + 5 * HOUR);
    expect(predictor.expectedEnd(run, NOW + 22 * HOUR)).toBe(run.startedAt + 24 * HOUR);
    const fresh = { ...run, startedAt: NOW - 60 };
    expect(predictor.expectedEnd(fresh, NOW)).toBe(NOW - 60 + HOUR);
  });

  test('GIVEN a resumed job THEN its attempt is predicted to run only what its earlier attempts left', () => {
    const predictor = RuntimePredictor.from({ a: [4 * HOUR, 4 * HOUR] });
    const resumed = job('r', { gpus: 2, maxRuntimeS: WEEK, attainedGpuS: 2 * 3 * HOUR });
    const run = { ...running(resumed, 'od', [0]), startedAt: NOW - 60 };
    expect(predictor.expectedEnd(run, NOW)).toBe(NOW - 60 + HOUR);
  });
});

describe('holds planned from predicted run times', () => {
  // One node; a 4-GPU job with a week's limit started an hour ago, and the team's last two
  // jobs ran two hours each, so it is expected to end in an hour.
  const longLimit = running(job('long', { gpus: 4, maxRuntimeS: WEEK }), 'od', [0]);
  const big = job('big', { gpus: 8, priorityClass: 'critical', maxRuntimeS: WEEK, submitTime: NOW - 120 });
  const base = state({
    pools: [pool('od', 1)],
    running: [longLimit],
    recentRuntimes: { a: [2 * HOUR, 2 * HOUR] },
  });
  const policy = (easy: 'limits' | 'placed' | 'predicted' | 'both') =>
    new DrivetrainPolicy({ ...DEFAULT_DRIVETRAIN_CONFIG, holdPlanning: { easy, starving: 'both' } });

  test('GIVEN limits THEN the head job is held until the running job’s limit and a day-long job backfills', () => {
    const dayLong = job('day', { team: 'b', gpus: 4, maxRuntimeS: 24 * HOUR });
    const decision = policy('limits').decide({ ...base, pending: [big, dayLong] }, NOW);
    expect(decision.reservation?.untilS).toBe(longLimit.startedAt + WEEK);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['day']);
  });

  test('GIVEN placed THEN the hold goes by predictions only in choosing nodes: its time and backfill go by limits', () => {
    const dayLong = job('day', { team: 'b', gpus: 4, maxRuntimeS: 24 * HOUR });
    const decision = policy('placed').decide({ ...base, pending: [big, dayLong] }, NOW);
    expect(decision.reservation?.untilS).toBe(longLimit.startedAt + WEEK);
    expect(decision.reservation?.expectedS).toBeUndefined();
    expect(decision.starts.map((start) => start.jobId)).toEqual(['day']);
  });

  test('GIVEN placed THEN the hold takes the node expected to free first, not the one whose limit ends first', () => {
    const dayLimit = running(job('dayLimit', { team: 'b', gpus: 8, maxRuntimeS: 24 * HOUR }), 'od', [1]);
    const two = { ...base, pools: [pool('od', 2)], running: [longLimit, dayLimit] };
    const byLimits = policy('limits').decide({ ...two, pending: [big] }, NOW);
    expect(byLimits.reservation?.placement.nodes).toEqual([1]);
    const placed = policy('placed').decide({ ...two, pending: [big] }, NOW);
    expect(placed.reservation?.placement.nodes).toEqual([0]);
    expect(placed.reservation?.untilS).toBe(longLimit.startedAt + WEEK);
  });

  test('GIVEN predictions THEN the head job is held from the predicted end, and a job expected to outlast it waits', () => {
    const dayLong = job('day', { team: 'b', gpus: 4, maxRuntimeS: 24 * HOUR });
    const decision = policy('predicted').decide({ ...base, pending: [big, dayLong] }, NOW);
    expect(decision.reservation?.untilS).toBe(longLimit.startedAt + 2 * HOUR);
    expect(decision.starts).toEqual([]);
  });

  test('GIVEN both THEN the hold promises the limit-bound start, expects the predicted one, and a job must fit both', () => {
    const dayLong = job('day', { team: 'b', gpus: 4, maxRuntimeS: 24 * HOUR });
    const quick = job('quick', { team: 'a', gpus: 4, maxRuntimeS: 24 * HOUR });
    const decision = policy('both').decide({ ...base, pending: [big, dayLong, quick] }, NOW);
    expect(decision.reservation?.untilS).toBe(longLimit.startedAt + WEEK);
    expect(decision.reservation?.expectedS).toBe(longLimit.startedAt + 2 * HOUR);
    // b has no history (predicted a day); a's jobs run two hours: still past the expected start.
    expect(decision.starts).toEqual([]);
    const fast = { ...base, recentRuntimes: { a: [2 * HOUR, 2 * HOUR], b: [600, 600] } };
    const next = policy('both').decide({ ...fast, pending: [big, dayLong] }, NOW);
    expect(next.starts.map((start) => start.jobId)).toEqual(['day']);
  });
});

describe('starvation holds', () => {
  test('a config from JSON that would plan them from predictions is refused, naming the field', () => {
    const holdPlanning = JSON.parse('{"easy":"both","starving":"predicted"}');
    expect(() => new DrivetrainPolicy({ ...DEFAULT_DRIVETRAIN_CONFIG, holdPlanning })).toThrow(
      /holdPlanning\.starving/,
    );
  });
});

describe('a session learning run times', () => {
  test('GIVEN a job of the team ended after two hours WHEN the next one runs THEN a hold behind it expects it to end two hours after its start', () => {
    const session = new DrivetrainPolicy({
      ...DEFAULT_DRIVETRAIN_CONFIG,
      holdPlanning: { easy: 'predicted', starving: 'both' },
    }).open(state({ pools: [pool('od', 1)] }));
    session.submit(job('first', { gpus: 8, maxRuntimeS: WEEK, submitTime: NOW }));
    expect(session.decide(NOW).starts.map((start) => start.jobId)).toEqual(['first']);
    session.finish('first');
    session.submit(job('second', { gpus: 4, maxRuntimeS: WEEK, submitTime: NOW + HOUR }));
    expect(session.decide(NOW + 2 * HOUR).starts.map((start) => start.jobId)).toEqual(['second']);
    session.submit(
      job('big', { gpus: 8, priorityClass: 'critical', maxRuntimeS: WEEK, submitTime: NOW + 2 * HOUR }),
    );
    const decision = session.decide(NOW + 2 * HOUR + 60);
    expect(decision.starts).toEqual([]);
    expect(decision.reservation?.untilS).toBe(NOW + 4 * HOUR);
  });

  test('GIVEN the shape as submitter THEN only the team’s jobs of the same shape and limit predict each other', () => {
    const predictor = new RuntimePredictor('shape');
    predictor.record(job('small', { gpus: 1, maxRuntimeS: WEEK }), HOUR);
    expect(predictor.predictedRuntime(job('same', { gpus: 1, maxRuntimeS: WEEK }))).toBe(HOUR);
    expect(predictor.predictedRuntime(job('wider', { gpus: 8, maxRuntimeS: WEEK }))).toBe(WEEK);
    expect(predictor.predictedRuntime(job('shorter', { gpus: 1, maxRuntimeS: 24 * HOUR }))).toBe(24 * HOUR);
  });
});

describe('carried holds planned from predictions', () => {
  const planned = new DrivetrainPolicy({
    ...DEFAULT_DRIVETRAIN_CONFIG,
    holdPlanning: { easy: 'predicted', starving: 'both' },
  });
  const { boundS } = DEFAULT_DRIVETRAIN_CONFIG.starvation;
  const overrun = running(job('overrun', { gpus: 8, maxRuntimeS: WEEK }), 'od', [0]);
  const base = state({ pools: [pool('od', 2)], recentRuntimes: { a: [1800, 1800] } });

  test('GIVEN a starving job’s carried hold whose expected start has passed THEN its expected start moves with the overrunning job, its promise does not', () => {
    const starving = job('starving', { gpus: 16, maxRuntimeS: WEEK, submitTime: NOW - 2 * boundS });
    const promised = overrun.startedAt + WEEK;
    const carried = {
      jobId: 'starving',
      placement: { poolId: 'od', nodes: [0, 1] },
      untilS: promised,
      expectedS: NOW - 600,
      starving: true,
    };
    const decision = planned.decide(
      { ...base, running: [overrun], pending: [starving], carriedHolds: [carried] },
      NOW,
    );
    const hold = decision.reservations?.find((r) => r.jobId === 'starving');
    expect(hold?.untilS).toBe(promised);
    // An hour in, predicted half an hour: extended to the next step, two hours.
    expect(hold?.expectedS).toBe(overrun.startedAt + 2 * HOUR);
  });

  test('GIVEN an EASY hold planned from predictions THEN it is planned afresh, on the nodes that now free first', () => {
    const head = job('head', { gpus: 8, priorityClass: 'critical', maxRuntimeS: WEEK });
    const early = {
      ...running(job('early', { gpus: 8, maxRuntimeS: WEEK }), 'od', [1]),
      startedAt: NOW - 60,
    };
    const stale = { jobId: 'head', placement: { poolId: 'od', nodes: [0] }, untilS: NOW - 600 };
    const decision = planned.decide(
      { ...base, running: [overrun, early], pending: [head], carriedHolds: [stale] },
      NOW,
    );
    expect(decision.reservation?.placement.nodes).toEqual([1]);
    expect(decision.reservation?.untilS).toBe(NOW - 60 + 1800);
  });
});
