import { describe, expect, test } from 'vitest';
import { PendingIndex } from '../../scheduler/drivetrain/pending-index';
import type { Job } from '../../scheduler/model';
import { job, NOW } from './fixtures';

const AGING_STEP_S = 4 * 3600;
const ids = (jobs: Iterable<Job>) => [...jobs].map((j) => j.id);

const STANDARD = 1;

function drain(index: PendingIndex, team = 'a', band = STANDARD): string[] {
  const taken: string[] = [];
  for (let next = index.takeNext(team, band, NOW); next !== undefined; next = index.takeNext(team, band, NOW))
    taken.push(next.id);
  return taken;
}

describe('pending index', () => {
  test('GIVEN queued jobs WHEN taken from a class THEN least service first, then longest waiting, and other classes stay', () => {
    const index = new PendingIndex(
      [
        job('fresh', { submitTime: NOW - 60 }),
        job('resumed', { submitTime: NOW - 600, attainedGpuS: 4 * 3600 }),
        job('old', { submitTime: NOW - 600 }),
        job('aged', { priorityClass: 'preemptible', submitTime: NOW - 3 * AGING_STEP_S }),
      ],
      AGING_STEP_S,
    );
    expect(drain(index)).toEqual(['old', 'fresh', 'resumed']);
    expect(index.teamsIn(0)).toEqual(['a']);
    expect(drain(index, 'a', 0)).toEqual(['aged']);
  });

  test('GIVEN jobs of several teams and classes WHEN the oldest past a bound is asked for THEN it comes whatever its class', () => {
    const index = new PendingIndex(
      [
        job('crit', { priorityClass: 'critical', submitTime: NOW - 100 }),
        job('old', { team: 'b', priorityClass: 'preemptible', submitTime: NOW - 5000 }),
        job('resumed', { team: 'c', submitTime: NOW - 9000, attainedGpuS: 2 * 3600 }),
      ],
      AGING_STEP_S,
    );
    // Two of the resumed job's 2.5 hours were spent running: it has waited half an hour.
    expect(index.takeOldest(NOW, 4000)?.id).toBe('old');
    expect(index.takeOldest(NOW, 4000)).toBeUndefined();
    expect(index.takeOldest(NOW, 0)?.id).toBe('resumed');
  });

  test('GIVEN a job taken and put back WHEN listed THEN it comes last, as a new arrival', () => {
    const index = new PendingIndex(
      [job('j1', { submitTime: NOW - 600 }), job('j2'), job('j3')],
      AGING_STEP_S,
    );
    const taken = index.takeNext('a', STANDARD, NOW)!;
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
    const taken = new Set(Array.from({ length: 7 }, () => index.takeNext('a', STANDARD, NOW)!.id));
    expect(ids(index.all())).toEqual(ids(jobs.filter((j) => !taken.has(j.id))));
  });

  test('GIVEN withdrawals still in the heaps WHEN most jobs are taken (the list compacts) THEN the rest come in order, by id too, and the snapshot is untouched', () => {
    const jobs = Array.from({ length: 20 }, (_, n) => job(`j${n}`, { submitTime: NOW - 1000 + n }));
    const snapshot = [...jobs];
    const index = new PendingIndex(jobs, AGING_STEP_S);
    index.withdraw('j15');
    index.withdraw('j18');
    const taken = Array.from({ length: 9 }, () => index.takeNext('a', STANDARD, NOW)!);
    expect(ids(taken)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7', 'j8']);
    index.requeue(taken[4]!);
    index.withdraw('j10');
    index.add(job('late', { submitTime: NOW - 2000 }));
    expect(ids(index.all())).toEqual(['j9', 'j11', 'j12', 'j13', 'j14', 'j16', 'j17', 'j19', 'j4', 'late']);
    expect(() => index.add(job('j12'))).toThrow(/already pending/);
    expect(drain(index)).toEqual(['late', 'j4', 'j9', 'j11', 'j12', 'j13', 'j14', 'j16', 'j17', 'j19']);
    expect(jobs).toEqual(snapshot);
  });
});
