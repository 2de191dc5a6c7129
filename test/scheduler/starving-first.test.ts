import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { DrivetrainConfig } from '../../scheduler/drivetrain/round';
import { job, NOW, pool, running, state, team } from './fixtures';

const { boundS } = DEFAULT_DRIVETRAIN_CONFIG.starvation;
/** Every hold taken (none free), so only `firstInClass` decides where a starving job goes. */
function policyWith(firstInClass: boolean): DrivetrainPolicy {
  const config: DrivetrainConfig = {
    ...DEFAULT_DRIVETRAIN_CONFIG,
    starvation: { ...DEFAULT_DRIVETRAIN_CONFIG.starvation, maxReservations: 0, firstInClass },
  };
  return new DrivetrainPolicy(config);
}

/**
 * Two GPUs free on one node; the heavy team has used far more than the light one (so fair
 * share serves the light team first) and owns no quota (so it cannot reclaim anything).
 */
function twoFreeGpus(pending: ReturnType<typeof job>[]) {
  return state({
    pools: [pool('od', 2)],
    teams: [team('heavy', 0), team('light', 16)],
    usage: { at: NOW - 60, byTeam: { heavy: { gpus: 1000 * 86_400, cpus: 0, memoryMiB: 0 } } },
    running: [
      running(job('full', { team: 'light', gpus: 8 }), 'od', [0]),
      running(job('most', { team: 'light', gpus: 6 }), 'od', [1]),
    ],
    pending,
  });
}

const starving = job('starving', { team: 'heavy', gpus: 2, submitTime: NOW - boundS - 1 });
const fresh = job('fresh', { team: 'light', gpus: 2 });

describe('starving jobs first within their class', () => {
  test('GIVEN a starving job of the heaviest team and no hold free WHEN a lighter team submits the same shape THEN the starving job takes the free GPUs', () => {
    const decision = policyWith(true).decide(twoFreeGpus([starving, fresh]), NOW);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['starving']);
  });

  test('GIVEN the same queue WHEN starving jobs keep their team turn THEN the lighter team takes them (what the option changes)', () => {
    const decision = policyWith(false).decide(twoFreeGpus([starving, fresh]), NOW);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['fresh']);
  });

  test('GIVEN a starving standard job WHEN a fresh critical job needs the same GPUs THEN the critical job goes first (a class is never overtaken)', () => {
    const critical = job('critical', { team: 'light', gpus: 2, priorityClass: 'critical' });
    const decision = policyWith(true).decide(twoFreeGpus([starving, critical]), NOW);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['critical']);
  });
});
