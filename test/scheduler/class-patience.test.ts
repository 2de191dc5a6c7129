import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { DrivetrainConfig } from '../../scheduler/drivetrain/round';
import { job, NOW, pool, running, state, team } from './fixtures';

const base = { ...DEFAULT_DRIVETRAIN_CONFIG.preemption, patienceByClassS: undefined };
const impatientCritical: DrivetrainConfig = {
  ...DEFAULT_DRIVETRAIN_CONFIG,
  preemption: { ...base, patienceByClassS: { critical: 0 } },
};
const uniform: DrivetrainConfig = { ...DEFAULT_DRIVETRAIN_CONFIG, preemption: base };

/** One node full of the team's own one-GPU preemptible jobs, and a fresh 8-GPU job. */
function fullNode(priorityClass: 'critical' | 'standard') {
  return state({
    pools: [pool('od', 1)],
    teams: [team('a', 8)],
    running: Array.from({ length: 8 }, (_, n) =>
      running(job(`v${n}`, { priorityClass: 'preemptible' }), 'od', [0]),
    ),
    pending: [job('fresh', { priorityClass, gpus: 8 })],
  });
}

describe('patience per class', () => {
  test('GIVEN critical work has no patience WHEN a fresh critical job needs eight victims THEN it stops them all at once and starts', () => {
    const decision = new DrivetrainPolicy(impatientCritical).decide(fullNode('critical'), NOW);
    expect(decision.preemptions).toHaveLength(8);
    expect(decision.starts.map((start) => start.jobId)).toEqual(['fresh']);
  });

  test('GIVEN the same rules WHEN a fresh standard job needs eight victims THEN it keeps the shared patience and waits', () => {
    const decision = new DrivetrainPolicy(impatientCritical).decide(fullNode('standard'), NOW);
    expect(decision.preemptions).toEqual([]);
    expect(decision.starts).toEqual([]);
  });

  test('GIVEN one patience for all WHEN the fresh critical job needs eight victims THEN it waits too', () => {
    const decision = new DrivetrainPolicy(uniform).decide(fullNode('critical'), NOW);
    expect(decision.preemptions).toEqual([]);
  });
});
