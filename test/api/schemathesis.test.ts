import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, test } from 'vitest';

/**
 * The API contract, checked by schemathesis (PyPI, in the project's .venv) against the real
 * local platform and the OpenAPI document it serves: every documented status and schema,
 * generated valid and invalid inputs, unsupported methods, stateful sequences. Bounded by
 * DRIVETRAIN_SCHEMATHESIS_EXAMPLES per operation (default 100, about a minute).
 */
const root = join(import.meta.dirname, '..', '..');
const examples = process.env.DRIVETRAIN_SCHEMATHESIS_EXAMPLES ?? '100';
let dataDir: string;
let server: ChildProcess;
let url: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-schemathesis-'));
  server = spawn(process.execPath, ['--import', 'tsx', join(root, 'local', 'serve.ts')], {
    cwd: root,
    env: {
      ...process.env,
      DRIVETRAIN_PORT: '0',
      DRIVETRAIN_DATA_DIR: dataDir,
      DRIVETRAIN_PERSIST: '0',
      // Generated commands run in a scratch directory, never in the repository.
      DRIVETRAIN_JOB_WORKING_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: server.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) resolve((JSON.parse(line) as { url: string }).url);
    });
    server.once('exit', (code) => reject(new Error(`the platform exited with ${code}`)));
  });
});
afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test('schemathesis finds no failure in the local job API', { timeout: 300_000 }, async () => {
  const run = spawn(
    join(root, '.venv', 'bin', 'schemathesis'),
    [
      '--config-file',
      join(root, 'api', 'schemathesis.toml'),
      'run',
      `${url}/openapi.json`,
      '--url',
      url,
      '--header',
      'X-Drivetrain-Team: perception',
      '--max-examples',
      examples,
      '--seed',
      '20261125',
      '--workers',
      '1',
      '--no-color',
    ],
    { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  run.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  run.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));

  expect(code, output).toBe(0);
  const summary = /(\d+) generated, \1 passed/.exec(output);
  expect(summary).not.toBeNull();
  console.log(`schemathesis: ${summary![0]}`);
});
