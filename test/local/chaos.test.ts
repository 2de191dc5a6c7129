import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

/**
 * The chaos test of bench/chaos.ts at a small fixed seed: 40 jobs, one kill -9 of the
 * platform and one of dynalite, lost, duplicated and reordered status reports, transient and
 * permanent backend errors, cancels racing dispatch, and a burst of 2,000 status reports.
 * The full runs (200+ jobs, 10,000 reports) are `npm run chaos`.
 */
test('a small seeded chaos run breaks no invariant and loses no status report', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'drivetrain-chaos-test-'));
  const out = join(dir, 'chaos.json');
  try {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '..', '..', 'bench', 'chaos.ts'),
        ...[
          '--seed',
          '11',
          '--jobs',
          '40',
          '--burst',
          '2000',
          '--platform-kills',
          '1',
          '--dynalite-kills',
          '1',
        ],
        ...['--timeout-s', '480', '--out', out],
      ],
      { encoding: 'utf8', timeout: 570_000 },
    );
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      jobs: number;
      faults: Record<string, number>;
      violations: unknown[];
      eventBurst: { events: number; lost: number };
    };

    expect(result.violations, run.stdout).toEqual([]);
    expect(result.jobs).toBe(40);
    expect(result.faults['platform-kill-9']).toBe(1);
    expect(result.eventBurst).toMatchObject({ events: 2000, lost: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
