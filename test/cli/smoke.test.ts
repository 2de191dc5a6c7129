import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('drivetrain executable', () => {
  it('runs through npx tsx and prints the command list', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'cli/drivetrain.ts', '--help']);
    expect(stdout).toMatch(/^Usage: drivetrain <command>/);
    for (const command of ['submit', 'status', 'list', 'logs', 'cancel', 'queues']) {
      expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
  });
});
