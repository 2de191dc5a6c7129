import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jobView, runCli } from './cli-harness';
import { type FakeApi, inSequence, type Responder, startFakeApi } from './fake-api';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function serve(respond: Responder): Promise<{ api: FakeApi; env: Record<string, string> }> {
  api = await startFakeApi(respond);
  return { api, env: { DRIVETRAIN_API: api.url, DRIVETRAIN_TEAM: 'perception' } };
}

function specFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'drivetrain-cli-')), name);
  writeFileSync(path, text);
  return path;
}

const JSON_SPEC = {
  name: 'bev-fusion-train',
  image: 'drivetrain/perception:1.4',
  command: ['python', 'train.py'],
  resources: { gpus: 2, gpuType: 'a10g', cpus: 8, memoryMiB: 32_768 },
  tags: { dataset: 'nuscenes' },
};
const created = { status: 201, body: { job: jobView() } };

const SPEC_YAML = `
name: bev-fusion-train
image: drivetrain/perception:1.4
command: [python, train.py]
resources:
  gpus: 2
  gpuType: a10g
  cpus: 8
  memoryMiB: 32768
tags:
  dataset: nuscenes
`;

describe('drivetrain submit', () => {
  it('sends a YAML spec as written, with the local team header', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);
    const file = specFile('job.yaml', SPEC_YAML);

    // WHEN
    const run = await runCli(['submit', file], env);

    // THEN
    expect(run).toMatchObject({ code: 0, stdout: 'submitted job job-1 (bev-fusion-train)' });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]).toMatchObject({
      method: 'POST',
      path: '/jobs',
      headers: { 'x-drivetrain-team': 'perception', 'content-type': 'application/json' },
      body: {
        name: 'bev-fusion-train',
        image: 'drivetrain/perception:1.4',
        command: ['python', 'train.py'],
        resources: { gpus: 2, gpuType: 'a10g', cpus: 8, memoryMiB: 32_768 },
        tags: { dataset: 'nuscenes' },
      },
    });
  });

  it('builds the exact spec from flags, with the command after --', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);

    // WHEN
    const run = await runCli(
      [
        'submit',
        '--name=sweep-lr',
        '--image',
        'drivetrain/perception:1.4',
        '--gpus',
        '4',
        '--gpu-type',
        'h100',
        '--cpus',
        '16',
        '--memory',
        '64Gi',
        '--nodes',
        '2',
        '--priority',
        'preemptible',
        '--preemptible',
        '--max-runtime',
        '1h30m',
        '--backend',
        'batch',
        '--env',
        'WANDB_MODE=offline',
        '--env',
        'OPTS=a=b',
        '--tag',
        'sweep=lr',
        '--idempotency-key',
        'sweep-lr-7',
        '--',
        'torchrun',
        'train.py',
        '--lr',
        '3e-4',
      ],
      env,
    );

    // THEN
    expect(run.code).toBe(0);
    expect(api.requests[0]?.body).toStrictEqual({
      name: 'sweep-lr',
      image: 'drivetrain/perception:1.4',
      command: ['torchrun', 'train.py', '--lr', '3e-4'],
      resources: { gpus: 4, gpuType: 'h100', cpus: 16, memoryMiB: 65_536, nodes: 2 },
      priorityClass: 'preemptible',
      preemptible: true,
      maxRuntimeS: 5400,
      backend: 'batch',
      env: { WANDB_MODE: 'offline', OPTS: 'a=b' },
      tags: { sweep: 'lr' },
      idempotencyKey: 'sweep-lr-7',
    });
  });

  it('lets flags override fields of the file', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);
    const file = specFile('job.json', JSON.stringify(JSON_SPEC));

    // WHEN
    await runCli(['submit', file, '--gpus', '1', '--tag', 'owner=ana', '--', 'python', 'eval.py'], env);

    // THEN
    expect(api.requests[0]?.body).toMatchObject({
      command: ['python', 'eval.py'],
      resources: { gpus: 1, gpuType: 'a10g', cpus: 8, memoryMiB: 32_768 },
      tags: { dataset: 'nuscenes', owner: 'ana' },
    });
  });

  it('rejects an invalid spec locally, naming each field, and sends nothing', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);
    const file = specFile(
      'job.yaml',
      SPEC_YAML.replace('gpus: 2', 'gpus: 64').replace('bev-fusion-train', 'bev fusion'),
    );

    // WHEN
    const run = await runCli(['submit', file], env);

    // THEN
    expect(run.code).toBe(2);
    // Reasons are the schema's own words; the field paths are what must be right.
    expect(run.stderr.split('\n')).toEqual([
      'error: invalid job spec',
      expect.stringMatching(/^ {2}name: \S/),
      expect.stringMatching(/^ {2}resources\.gpus: \S/),
    ]);
    expect(api.requests).toHaveLength(0);
  });

  it('reports a missing flag by its field when submitting from flags', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);

    // WHEN
    const run = await runCli(
      ['submit', '--name', 'x', '--image', 'img', '--gpus', '0', '--memory', '1Gi', '--', 'true'],
      env,
    );

    // THEN
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('  resources.cpus: ');
    expect(api.requests).toHaveLength(0);
  });

  it('prints local validation errors as the API error JSON with --json', async () => {
    // GIVEN
    const { env } = await serve(() => created);
    const file = specFile('job.yaml', SPEC_YAML.replace('cpus: 8', 'cpus: -1'));

    // WHEN
    const run = await runCli(['submit', file, '--json'], env);

    // THEN
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stderr)).toEqual({
      error: 'ValidationError',
      message: 'invalid job spec',
      fields: [{ field: 'resources.cpus', reason: expect.any(String) }],
    });
  });

  it('rejects a malformed flag value as a usage error', async () => {
    // GIVEN
    const { api, env } = await serve(() => created);

    // WHEN
    const run = await runCli(['submit', specFile('job.yaml', SPEC_YAML), '--memory', '32GB'], env);

    // THEN
    expect(run).toMatchObject({
      code: 2,
      stderr: "error: --memory: expected a size such as 32Gi or 512Mi (a whole number of MiB), got '32GB'",
    });
    expect(api.requests).toHaveLength(0);
  });

  it('says when the idempotency key replayed an earlier submission', async () => {
    // GIVEN
    const { env } = await serve(() => ({
      status: 200,
      body: { job: jobView() },
      headers: { 'Idempotent-Replayed': 'true' },
    }));

    // WHEN
    const run = await runCli(
      ['submit', specFile('job.yaml', `${SPEC_YAML}idempotencyKey: nightly-1\n`)],
      env,
    );

    // THEN
    expect(run).toMatchObject({
      code: 0,
      stdout: 'job job-1 (bev-fusion-train) already submitted with this idempotency key',
    });
  });

  it('exits 1 with the API message on a 409', async () => {
    // GIVEN
    const { env } = await serve(() => ({
      status: 409,
      body: {
        error: 'IdempotencyConflict',
        message: 'idempotency key nightly-1 was used with a different spec',
      },
    }));

    // WHEN
    const run = await runCli(
      ['submit', specFile('job.yaml', `${SPEC_YAML}idempotencyKey: nightly-1\n`)],
      env,
    );

    // THEN
    expect(run).toMatchObject({
      code: 1,
      stdout: '',
      stderr:
        'error: idempotency key nightly-1 was used with a different spec (HTTP 409 IdempotencyConflict)',
    });
  });

  it('prints the raw API response with --json', async () => {
    // GIVEN
    const { env } = await serve(() => created);

    // WHEN
    const run = await runCli(['submit', specFile('job.yaml', SPEC_YAML), '--json'], env);

    // THEN
    expect(JSON.parse(run.stdout)).toStrictEqual(created.body);
  });
});

describe('drivetrain submit --wait', () => {
  const pending = jobView({
    pendingReason: { code: 'QUOTA_EXHAUSTED', message: 'team quota of 4 a10g GPUs in use' },
  });
  const running = jobView({
    state: 'RUNNING',
    attempt: 1,
    pool: 'a10g-on-demand',
    startedAt: '2025-05-01T10:00:00Z',
  });

  it('follows the job through its states to SUCCEEDED and exits 0', async () => {
    // GIVEN
    const { api, env } = await serve(
      inSequence(
        { status: 201, body: { job: pending } },
        { status: 200, body: { job: pending } },
        { status: 200, body: { job: jobView({ ...running, state: 'DISPATCHED' }) } },
        { status: 200, body: { job: running } },
        { status: 200, body: { job: jobView({ ...running, state: 'SUCCEEDED', exitCode: 0 }) } },
      ),
    );

    // WHEN
    const run = await runCli(['submit', specFile('job.yaml', SPEC_YAML), '--wait'], env);

    // THEN
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'submitted job job-1 (bev-fusion-train)',
        '10:00:00Z  PENDING     team quota of 4 a10g GPUs in use [QUOTA_EXHAUSTED]',
        '10:00:00Z  DISPATCHED  on a10g-on-demand',
        '10:00:00Z  RUNNING     on a10g-on-demand',
        '10:00:00Z  SUCCEEDED   exit code 0',
      ].join('\n'),
    );
    expect(api.requests.slice(1).map((request) => `${request.method} ${request.path}`)).toEqual(
      Array(4).fill('GET /jobs/job-1'),
    );
    expect(run.sleeps).toBe(4);
  });

  it('exits non-zero when the job FAILED', async () => {
    // GIVEN
    const { env } = await serve(
      inSequence(
        { status: 201, body: { job: running } },
        {
          status: 200,
          body: { job: jobView({ ...running, state: 'FAILED', exitCode: 137, stateReason: 'OOMKilled' }) },
        },
      ),
    );

    // WHEN
    const run = await runCli(['submit', specFile('job.yaml', SPEC_YAML), '--wait'], env);

    // THEN
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('FAILED      exit code 137, OOMKilled');
  });

  it('prints only the final job with --json', async () => {
    // GIVEN
    const succeeded = jobView({ ...running, state: 'SUCCEEDED', exitCode: 0 });
    const { env } = await serve(
      inSequence({ status: 201, body: { job: running } }, { status: 200, body: { job: succeeded } }),
    );

    // WHEN
    const run = await runCli(['submit', specFile('job.yaml', SPEC_YAML), '--wait', '--json'], env);

    // THEN
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toStrictEqual({ job: succeeded });
  });
});
