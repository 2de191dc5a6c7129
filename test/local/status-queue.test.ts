import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { BackendJobStatus } from '../../jobs/ports';
import { LocalStatusQueue } from '../../local/status-queue';

const report = (n: number): BackendJobStatus => ({
  name: `dt-job${n}-1`,
  backendJobId: `b${n}`,
  state: 'RUNNING',
});
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drivetrain-queue-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a report received but not acknowledged is delivered again after its visibility timeout', () => {
  const queue = new LocalStatusQueue(1_000, 3);
  queue.send(report(1));

  const first = queue.receive(10, 0);
  const hidden = queue.receive(10, 500);
  const again = queue.receive(10, 1_500);
  queue.acknowledge(again);

  expect(first.map((m) => m.status)).toEqual([report(1)]);
  expect(hidden).toEqual([]);
  expect(again.map((m) => m.status)).toEqual([report(1)]);
  expect(queue.depth).toBe(0);
});

test('a report delivered maxReceives times without acknowledgement is dead-lettered', () => {
  const queue = new LocalStatusQueue(0, 2);
  queue.send(report(1));

  queue.receive(10, 1);
  queue.receive(10, 2);
  const third = queue.receive(10, 3);

  expect(third).toEqual([]);
  expect(queue.deadLetters).toEqual([report(1)]);
});

test('with a journal, what was sent and not acknowledged survives a crash, and only that', () => {
  // GIVEN three reports, one acknowledged, one received but not acknowledged, when the runtime dies
  const journal = join(dir, 'queue.jsonl');
  const before = new LocalStatusQueue(30_000, 10, journal);
  for (const n of [1, 2, 3]) before.send(report(n));
  const [one] = before.receive(1);
  before.acknowledge([one!]);
  before.receive(1);

  // WHEN a new lifetime opens the journal
  const after = new LocalStatusQueue(30_000, 10, journal);
  const delivered = after.receive(10);
  after.acknowledge(delivered);
  after.send(report(4));

  // THEN the unacknowledged two come back, and new ids do not collide with old ones
  expect(delivered.map((m) => m.status)).toEqual([report(2), report(3)]);
  expect(new LocalStatusQueue(30_000, 10, journal).receive(10).map((m) => m.status)).toEqual([report(4)]);
});
