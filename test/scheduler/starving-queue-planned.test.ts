import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
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
