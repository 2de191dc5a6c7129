import { describe, expect, test } from 'vitest';
import { PendingIndex } from '../../scheduler/drivetrain/pending-index';
import type { Job } from '../../scheduler/model';
import { job, NOW } from './fixtures';

const AGING_STEP_S = 4 * 3600;
const ids = (jobs: Iterable<Job>) => [...jobs].map((j) => j.id);

function drain(index: PendingIndex, team = 'a'): string[] {
  const taken: string[] = [];
  for (let next = index.takeNext(team, 0, NOW); next !== undefined; next = index.takeNext(team, 0, NOW))
    taken.push(next.id);
  return taken;
}

describe('pending index', () => {
  test('GIVEN queued jobs WHEN taken THEN highest band first, then least service, then longest waiting', () => {
    const index = new PendingIndex(
      [
        job('fresh', { submitTime: NOW - 60 }),
        job('resumed', { submitTime: NOW - 600, attainedGpuS: 4 * 3600 }),
        job('old', { submitTime: NOW - 600 }),
        job('aged', { priorityClass: 'preemptible', submitTime: NOW - 3 * AGING_STEP_S }),
      ],
      AGING_STEP_S,
    );
    expect(drain(index)).toEqual(['aged', 'old', 'fresh', 'resumed']);
  });

  test('GIVEN a job taken and put back WHEN listed THEN it comes last, as a new arrival', () => {
    const index = new PendingIndex(
      [job('j1', { submitTime: NOW - 600 }), job('j2'), job('j3')],
      AGING_STEP_S,
    );
    const taken = index.takeNext('a', 0, NOW)!;
    expect(ids(index.all())).toEqual(['j2', 'j3']);
    index.requeue(taken);
    expect(ids(index.all())).toEqual(['j2', 'j3', 'j1']);
  });

  test('GIVEN a withdrawn job WHEN listed or taken THEN it is gone, and a resubmission is taken once', () => {
    const index = new PendingIndex([job('j1', { submitTime: NOW - 600 }), job('j2')], AGING_STEP_S);
    index.withdraw('j1');
    expect(ids(index.all())).toEqual(['j2']);
    index.add(job('j1', { submitTime: NOW - 600 }));
    expect(drain(index)).toEqual(['j1', 'j2']);
  });

  test('GIVEN a pending id WHEN added again THEN it is rejected, also for duplicates in the snapshot', () => {
    const index = new PendingIndex([job('j1')], AGING_STEP_S);
    expect(() => index.add(job('j1'))).toThrow(/already pending/);
    const doubled = new PendingIndex([job('j1'), job('j1')], AGING_STEP_S);
    expect(() => doubled.add(job('j2'))).toThrow(/j1 is already pending/);
  });

  test('GIVEN most jobs taken WHEN listed THEN the rest keep their arrival order', () => {
    const jobs = Array.from({ length: 10 }, (_, n) => job(`j${n}`, { submitTime: NOW - 1000 + (n % 3) }));
    const index = new PendingIndex(jobs, AGING_STEP_S);
    const taken = new Set(Array.from({ length: 7 }, () => index.takeNext('a', 0, NOW)!.id));
    expect(ids(index.all())).toEqual(ids(jobs.filter((j) => !taken.has(j.id))));
  });
});
