import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { CliIo } from '../../cli/io';
import { main as cli } from '../../cli/main';

/** `drivetrain data` refuses bad input before anything is uploaded, naming the field. */
describe('drivetrain data, bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-cli-'));
  const log = join(dir, 'front.mcap');
  writeFileSync(log, 'MCAP');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function drivetrain(...argv: string[]) {
    const err: string[] = [];
    const io: CliIo = {
      stdout: () => undefined,
      stderr: (line) => err.push(line),
      env: { DRIVETRAIN_DATA_DIR: join(dir, '.drivetrain') },
      now: () => new Date(),
      sleep: async () => undefined,
    };
    return { code: await cli(argv, io), stderr: err.join('\n') };
  }

  test.each([
    [['data'], /data needs a command: one of ingest, runs, tables, show/],
    [['data', 'export'], /unknown data command 'export'/],
    [['data', 'ingest'], /usage: drivetrain data ingest <file>/],
    [
      ['data', 'ingest', join(dir, 'missing.bag'), '--vehicle', 'v', '--drive', 'd'],
      /missing\.bag: no such file/,
    ],
    [['data', 'ingest', dir, '--vehicle', 'v', '--drive', 'd'], /not a file/],
    [['data', 'ingest', log], /--vehicle: required for .*front\.mcap/],
    [
      ['data', 'ingest', log, '--vehicle', 'car 7', '--drive', 'd'],
      /--vehicle: 'car 7' must be letters, digits/,
    ],
    [['data', 'ingest', log, '--vehicle', 'v', '--drive', '../up'], /--drive: '\.\.\/up' must be/],
    [['data', 'runs', '--limit', '0'], /limit/],
    [['data', 'show'], /usage: drivetrain data show <table>/],
  ])('%j is a usage error', async (argv, message) => {
    const { code, stderr } = await drivetrain(...argv);

    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
