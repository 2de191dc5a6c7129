import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApi } from '../../api/app';
import { localHeaderTeam } from '../../api/identity';
import { environmentConfig } from '../../config/environments';
import type { JobRecord } from '../../jobs/job';
import { JobService } from '../../jobs/service';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { CHUNK_BYTES, localLogFiles } from '../../local/log-files';
import { runCli } from '../cli/cli-harness';
import { localStore } from '../jobs/store-fixture';

const environment = environmentConfig('dev');
let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let logDir: string;

beforeAll(async () => {
  ({ db, store } = await localStore());
  logDir = mkdtempSync(join(tmpdir(), 'drivetrain-logs-'));
});
afterAll(async () => {
  await db.close();
  rmSync(logDir, { recursive: true, force: true });
});

/** A finished job whose first attempt logged `bytes`. */
async function finishedJobWithLog(bytes: Buffer): Promise<JobRecord> {
  const { job } = await new JobService({ store, environment }).submit('perception', {
    name: 'logged',
    image: 'local',
    command: ['true'],
    resources: { gpus: 0, cpus: 1, memoryMiB: 512 },
  });
  const finished = await store.transition(job, 'CANCELLED', {
    attempt: 1,
    endedAt: new Date().toISOString(),
  });
  mkdirSync(join(logDir, job.id), { recursive: true });
  writeFileSync(join(logDir, job.id, 'attempt-1.log'), bytes);
  return finished;
}

/** Reads the whole log as `logs --follow` would; fails instead of looping. */
async function readAll(job: JobRecord) {
  const source = localLogFiles(logDir, store);
  const lines: string[] = [];
  let offset = 0;
  for (let reads = 1; reads <= 20; reads++) {
    const chunk = await source.read(job.id, 1, offset);
    lines.push(...chunk.lines);
    offset = chunk.nextOffset;
    if (chunk.complete) return { lines, offset, reads };
  }
  throw new Error(`still not complete at offset ${offset}`);
}

describe('local log files', () => {
  test('a line longer than a chunk with no newline is read to the end of a finished job, in pieces', async () => {
    const line = 'x'.repeat(CHUNK_BYTES + 50_000);
    const job = await finishedJobWithLog(Buffer.from(line));

    const { lines, offset, reads } = await readAll(job);

    expect(lines.join('')).toBe(line);
    expect(offset).toBe(line.length);
    expect(reads).toBe(2);
  });

  test('a multi-byte character at a chunk boundary is never cut in two', async () => {
    const line = `${'a'.repeat(CHUNK_BYTES - 1)}é and more`;
    const job = await finishedJobWithLog(Buffer.from(`${line}\n`));

    const { lines } = await readAll(job);

    expect(lines.join('')).toBe(line);
  });

  test('invalid UTF-8 does not shift offsets: they count bytes of the file', async () => {
    const bytes = Buffer.concat([
      Buffer.from('ok\n'),
      Buffer.from([0xff, 0xfe, 0x0a]),
      Buffer.from('last\n'),
    ]);
    const job = await finishedJobWithLog(bytes);
    const source = localLogFiles(logDir, store);

    const first = await source.read(job.id, 1, 0);
    const fromSecondLine = await source.read(job.id, 1, 3);

    expect(first).toEqual({
      lines: ['ok', '\ufffd\ufffd', 'last'],
      nextOffset: bytes.length,
      complete: true,
    });
    expect(fromSecondLine.lines).toEqual(['\ufffd\ufffd', 'last']);
  });

  test('`drivetrain logs --follow` ends on a finished job whose last line is longer than a chunk', async () => {
    const line = 'y'.repeat(CHUNK_BYTES * 2 + 7);
    const job = await finishedJobWithLog(Buffer.from(line));
    const app = createApi({
      service: new JobService({ store, environment }),
      resolveTeam: localHeaderTeam(environment),
      queues: async () => ({ teams: [], pools: [] }),
      logs: localLogFiles(logDir, store),
    });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const run = await Promise.race([
        runCli(['logs', job.id, '--follow', '--api', url, '--team', 'perception']),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('logs --follow never ended')), 10_000),
        ),
      ]);

      expect(run.code).toBe(0);
      expect(run.stdout.replaceAll('\n', '')).toBe(line);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(statSync(join(logDir, job.id, 'attempt-1.log')).size).toBe(line.length);
  });
});
