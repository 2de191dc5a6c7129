import { describe, expect, test } from 'vitest';
import { ClusterCapacity } from '../../scheduler/capacity';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { ReservationProfile } from '../../scheduler/drivetrain/reservation-profile';
import type { DrivetrainConfig } from '../../scheduler/drivetrain/round';
import { job, NOW, pool, running, state, team } from './fixtures';

const { boundS } = DEFAULT_DRIVETRAIN_CONFIG.starvation;
const HOUR = 3600;

function policyWith(starvation: Partial<DrivetrainConfig['starvation']>): DrivetrainPolicy {
  return new DrivetrainPolicy({
    ...DEFAULT_DRIVETRAIN_CONFIG,
    starvation: { ...DEFAULT_DRIVETRAIN_CONFIG.starvation, maxReservations: 0, ...starvation },
  });
}

/** A standard job started an hour ago whose limit ends `endsInS` from now. */
function busy(id: string, poolId: string, node: number, endsInS: number) {
  return running(job(id, { gpus: 8, maxRuntimeS: HOUR + endsInS }), poolId, [node]);
}

/**
 * Two starving 16-GPU gangs: a critical one that only on-demand nodes take (both busy) and a
 * standard one whose earliest start is on spot, where one node is free now. Fresh standard
 * work could backfill that free node.
 */
function twoStarvingGangs() {
  return state({
    pools: [pool('od', 2), pool('spot', 2, 'spot')],
    teams: [team('a', 100)],
    running: [busy('od0', 'od', 0, HOUR), busy('od1', 'od', 1, 2 * HOUR), busy('spot1', 'spot', 1, HOUR)],
    pending: [
      job('critical-gang', { gpus: 16, priorityClass: 'critical', submitTime: NOW - boundS - 200 }),
      job('standard-gang', { gpus: 16, submitTime: NOW - boundS - 100 }),
      job('long', { maxRuntimeS: 4 * HOUR }),
      job('short', { maxRuntimeS: HOUR / 2 }),
    ],
  });
}

describe('the starving queue planned by conservative backfill (starvation.plannedPerRound)', () => {
  test('GIVEN two starving gangs WHEN both get planned starts THEN only work that ends before the second gang starts may backfill its free node', () => {
    const decision = policyWith({ plannedPerRound: 64 }).decide(twoStarvingGangs(), NOW);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['short']);
    expect(decision.preemptions).toEqual([]);
  });

  test('GIVEN the same queue WHEN only the first blocked job holds nodes (EASY) THEN the long job takes the node the second gang needs (what the option changes)', () => {
    const decision = policyWith({}).decide(twoStarvingGangs(), NOW);
    expect(decision.starts.map((start) => start.jobId).sort()).toEqual(['long', 'short']);
  });

  test('GIVEN a starving gang whose start lies beyond the planning window WHEN planned THEN nothing is held for it and backfill proceeds', () => {
    const decision = policyWith({ plannedPerRound: 64, planWindowS: HOUR / 2 }).decide(
      twoStarvingGangs(),
      NOW,
    );
    expect(decision.starts.map((start) => start.jobId).sort()).toEqual(['long', 'short']);
  });
});

describe('the availability profile', () => {
  test('GIVEN a node shared by a job near its limit and one a week from it WHEN two small jobs are planned THEN the first starts when the near one ends and the second only once the node is empty', () => {
    const pools = [pool('od', 1)];
    const runs = [
      running(job('near', { gpus: 2, maxRuntimeS: 2 * HOUR }), 'od', [0]),
      running(job('far', { gpus: 6, maxRuntimeS: 7 * 24 * HOUR }), 'od', [0]),
    ];
    const capacity = ClusterCapacity.of(pools, runs);
    const profile = new ReservationProfile(capacity.pools, runs, NOW, () => false);
    const first = profile.plan(job('first', { gpus: 2 }), capacity.pools);
    expect(first?.untilS).toBe(NOW + HOUR);
    const second = profile.plan(job('second', { gpus: 2 }), capacity.pools);
    expect(second?.untilS).toBe(NOW + 7 * 24 * HOUR - HOUR);
    // Work that outlasts the first planned start may not take the node; work that ends before may.
    expect(profile.permits('od', 0, job('long', { maxRuntimeS: 2 * HOUR }), NOW)).toBe(false);
    expect(profile.permits('od', 0, job('brief', { maxRuntimeS: HOUR }), NOW)).toBe(true);
    // A job's own plan does not bind it; the next one on the node does.
    expect(profile.permits('od', 0, job('first', { maxRuntimeS: 2 * HOUR }), NOW)).toBe(true);
    expect(profile.permits('od', 0, job('first', { maxRuntimeS: 7 * 24 * HOUR }), NOW)).toBe(false);
  });

  test('GIVEN nodes held by another hold WHEN a job is planned THEN it is planned around them or not at all', () => {
    const pools = [pool('od', 1)];
    const capacity = ClusterCapacity.of(pools, []);
    const profile = new ReservationProfile(capacity.pools, [], NOW, () => true);
    expect(profile.plan(job('gang', { gpus: 8 }), capacity.pools)).toBeUndefined();
    expect(profile.size).toBe(0);
  });
});

describe('victims for a job past the bound (starvation.patientPastBound)', () => {
  /** One node full of four 2-GPU preemptible jobs; a starving 8-GPU job of the same team. */
  const fourSmallVictims = () =>
    state({
      pools: [pool('od', 1)],
      teams: [team('a', 8)],
      running: [0, 1, 2, 3].map((n) =>
        running(job(`sweep${n}`, { gpus: 2, priorityClass: 'preemptible' }), 'od', [0]),
      ),
      pending: [job('starving', { gpus: 8, submitTime: NOW - boundS - 1 })],
    });

  test('GIVEN a starving job that needs four victims WHEN it may stop what it needs THEN it clears the node and starts', () => {
    const decision = policyWith({ patientPastBound: true }).decide(fourSmallVictims(), NOW);
    expect(decision.preemptions.map((p) => p.jobId).sort()).toEqual(['sweep0', 'sweep1', 'sweep2', 'sweep3']);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['starving']);
  });

  test('GIVEN the same job WHEN the impatient cap of two victims applies THEN it stops nobody and waits', () => {
    const decision = policyWith({}).decide(fourSmallVictims(), NOW);
    expect(decision.preemptions).toEqual([]);
    expect(decision.starts).toEqual([]);
  });
});
