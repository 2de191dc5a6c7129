import { afterEach, describe, expect, it } from 'vitest';
import type { QueuesView } from '../../cli/api-types';
import { jobView, runCli } from './cli-harness';
import { type FakeApi, inSequence, type Responder, startFakeApi } from './fake-api';

let api: FakeApi | undefined;
async function stopApi(): Promise<void> {
  await api?.close();
  api = undefined;
}
afterEach(stopApi);

async function serve(respond: Responder): Promise<{ api: FakeApi; env: Record<string, string> }> {
  api = await startFakeApi(respond);
  return { api, env: { DRIVETRAIN_API: api.url } };
}

const ok = (body: unknown) => ({ status: 200, body });

describe('drivetrain status', () => {
  it('shows why a pending job waits', async () => {
    // GIVEN
    const job = jobView({
      pendingReason: { code: 'QUOTA_EXHAUSTED', message: 'team quota of 4 a10g GPUs in use' },
    });
    const { api, env } = await serve(() => ok({ job }));

    // WHEN
    const run = await runCli(['status', 'job-1', '--team', 'perception'], env);

    // THEN
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('state      PENDING');
    expect(run.stdout).toContain('waiting    team quota of 4 a10g GPUs in use [QUOTA_EXHAUSTED]');
    expect(run.stdout).toContain('resources  2×a10g, 8 vCPU, 32Gi');
    expect(run.stdout).toContain('submitted  2025-05-01 09:55:00Z (5m ago)');
    expect(api.requests[0]).toMatchObject({
      method: 'GET',
      path: '/jobs/job-1',
      headers: { 'x-drivetrain-team': 'perception' },
    });
  });

  it('prints the raw API JSON with --json', async () => {
    // GIVEN
    const body = { job: jobView({ state: 'RUNNING', attempt: 1, pool: 'a10g-spot' }) };
    const { env } = await serve(() => ok(body));

    // WHEN
    const run = await runCli(['status', 'job-1', '--json'], env);

    // THEN
    expect(JSON.parse(run.stdout)).toStrictEqual(body);
  });

  it('exits 1 with the API message for an unknown job', async () => {
    // GIVEN
    const { env } = await serve(() => ({ status: 404, body: { error: 'NotFound', message: 'no job nope' } }));

    // WHEN
    const run = await runCli(['status', 'nope'], env);

    // THEN
    expect(run).toMatchObject({ code: 1, stderr: 'error: no job nope (HTTP 404 NotFound)' });
  });

  it('lists the fields of an API error once', async () => {
    // GIVEN
    const { env } = await serve(() => ({
      status: 400,
      body: {
        error: 'ValidationError',
        message: 'bad offset',
        fields: [{ field: 'offset', reason: 'a byte offset >= 0' }],
      },
    }));

    // WHEN
    const run = await runCli(['status', 'job-1'], env);

    // THEN
    expect(run.stderr).toBe('error: bad offset (HTTP 400 ValidationError)\n  offset: a byte offset >= 0');
  });

  it('does not repeat fields the API message already names', async () => {
    // GIVEN
    const reason = 'no zz9 fleet; available: a10g, l4';
    const { env } = await serve(() => ({
      status: 400,
      body: {
        error: 'ValidationError',
        message: `resources.gpuType: ${reason}`,
        fields: [{ field: 'resources.gpuType', reason }],
      },
    }));

    // WHEN
    const run = await runCli(['status', 'job-1'], env);

    // THEN
    expect(run.stderr).toBe(`error: resources.gpuType: ${reason} (HTTP 400 ValidationError)`);
  });

  it('exits 2 without a job id', async () => {
    expect(await runCli(['status'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: drivetrain status <job-id>'),
    });
  });
});

describe('drivetrain list', () => {
  it('follows nextToken to the last page with --all', async () => {
    // GIVEN
    const { api, env } = await serve(
      inSequence(
        ok({ jobs: [jobView({ id: 'job-3', state: 'RUNNING' })], nextToken: 'page-2' }),
        ok({ jobs: [jobView({ id: 'job-2', state: 'FAILED', exitCode: 1 })], nextToken: 'page-3' }),
        ok({ jobs: [jobView({ id: 'job-1', state: 'SUCCEEDED' })] }),
      ),
    );

    // WHEN
    const run = await runCli(['list', '--all', '--state', 'running', '--limit', '1'], env);

    // THEN
    expect(run.code).toBe(0);
    expect(api.requests.map((request) => request.query)).toEqual([
      { state: 'RUNNING', limit: '1' },
      { state: 'RUNNING', limit: '1', nextToken: 'page-2' },
      { state: 'RUNNING', limit: '1', nextToken: 'page-3' },
    ]);
    expect(run.stdout.split('\n')).toEqual([
      'ID     NAME              STATE      CLASS     GPUS    AGE  WHY',
      'job-3  bev-fusion-train  RUNNING    standard  2×a10g  5m',
      'job-2  bev-fusion-train  FAILED     standard  2×a10g  5m   exit code 1',
      'job-1  bev-fusion-train  SUCCEEDED  standard  2×a10g  5m',
    ]);
  });

  it('shows one page and points to the next without --all', async () => {
    // GIVEN
    const { api, env } = await serve(() => ok({ jobs: [jobView()], nextToken: 'page-2' }));

    // WHEN
    const run = await runCli(['list'], env);

    // THEN
    expect(api.requests).toHaveLength(1);
    expect(run.stderr).toBe('more jobs: drivetrain list --all, or --next-token page-2');
  });

  it('merges every page into one JSON document with --all --json', async () => {
    // GIVEN
    const first = jobView({ id: 'job-2' });
    const second = jobView({ id: 'job-1' });
    const { env } = await serve(inSequence(ok({ jobs: [first], nextToken: 't' }), ok({ jobs: [second] })));

    // WHEN
    const run = await runCli(['list', '--all', '--json'], env);

    // THEN
    expect(JSON.parse(run.stdout)).toStrictEqual({ jobs: [first, second] });
  });

  it('rejects an unknown state before calling the API', async () => {
    // GIVEN
    const { api, env } = await serve(() => ok({ jobs: [] }));

    // WHEN
    const run = await runCli(['list', '--state', 'RUNNABLE'], env);

    // THEN
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--state: expected one of PENDING, DISPATCHED, RUNNING');
    expect(api.requests).toHaveLength(0);
  });
});

describe('drivetrain cancel', () => {
  it('cancels a waiting job', async () => {
    // GIVEN
    const { api, env } = await serve(() => ({ status: 202, body: { job: jobView({ state: 'CANCELLED' }) } }));

    // WHEN
    const run = await runCli(['cancel', 'job-1'], env);

    // THEN
    expect(run).toMatchObject({ code: 0, stdout: 'cancelled job job-1 (bev-fusion-train)' });
    expect(api.requests[0]).toMatchObject({ method: 'DELETE', path: '/jobs/job-1' });
  });

  it('says a running job will be stopped', async () => {
    // GIVEN
    const { env } = await serve(() => ({ status: 202, body: { job: jobView({ state: 'RUNNING' }) } }));

    // WHEN
    const run = await runCli(['cancel', 'job-1'], env);

    // THEN
    expect(run.stdout).toBe(
      'cancel requested for job job-1 (bev-fusion-train); it is RUNNING and will be stopped shortly',
    );
  });
});

describe('drivetrain logs', () => {
  it('follows from the returned offset until the attempt is complete', async () => {
    // GIVEN
    const { api, env } = await serve(
      inSequence(
        ok({ lines: ['epoch 1'], nextOffset: 8, complete: false }),
        ok({ lines: [], nextOffset: 8, complete: false }),
        ok({ lines: ['epoch 2', 'done'], nextOffset: 21, complete: true }),
      ),
    );

    // WHEN
    const run = await runCli(['logs', 'job-1', '--attempt', '2', '--follow'], env);

    // THEN
    expect(run).toMatchObject({ code: 0, stdout: 'epoch 1\nepoch 2\ndone', sleeps: 1 });
    expect(api.requests.map((request) => [request.path, request.query])).toEqual([
      ['/jobs/job-1/logs', { attempt: '2' }],
      ['/jobs/job-1/logs', { attempt: '2', offset: '8' }],
      ['/jobs/job-1/logs', { attempt: '2', offset: '8' }],
    ]);
  });
});

describe('drivetrain queues', () => {
  const queues: QueuesView = {
    teams: [
      {
        team: 'perception',
        weight: 2,
        pending: 3,
        running: 1,
        gpusInUse: { a10g: 4 },
        quota: { a10g: 4, h100: 2 },
        heads: [
          {
            id: 'job-9',
            name: 'bev-fusion-train',
            priorityClass: 'standard',
            reason: { code: 'QUOTA_EXHAUSTED', message: 'team quota of 4 a10g GPUs in use' },
          },
        ],
      },
      {
        team: 'planning',
        weight: 1,
        pending: 1,
        running: 0,
        gpusInUse: {},
        quota: { h100: 8 },
        heads: [{ id: 'job-8', name: 'occupancy', priorityClass: 'preemptible' }],
      },
    ],
    pools: [{ pool: 'a10g-on-demand', gpuType: 'a10g', capacityType: 'on-demand', gpus: 8, gpusInUse: 4 }],
  };

  it('shows usage against quota and why the head jobs wait', async () => {
    // GIVEN
    const { env } = await serve(() => ok(queues));

    // WHEN
    const run = await runCli(['queues'], env);

    // THEN
    expect(run.stdout.split('\n')).toEqual([
      'TEAM        WEIGHT  PENDING  RUNNING  GPUS IN USE / QUOTA',
      'perception  2       3        1        a10g 4/4, h100 0/2',
      'planning    1       1        0        h100 0/8',
      '',
      'Head of queue:',
      'TEAM        JOB    NAME              CLASS        WHY PENDING',
      'perception  job-9  bev-fusion-train  standard     team quota of 4 a10g GPUs in use [QUOTA_EXHAUSTED]',
      'planning    job-8  occupancy         preemptible  -',
      '',
      'POOL            GPU   CAPACITY   GPUS IN USE',
      'a10g-on-demand  a10g  on-demand  4/8',
    ]);
  });

  it('prints the raw API JSON with --json', async () => {
    // GIVEN
    const { env } = await serve(() => ok(queues));

    // WHEN
    const run = await runCli(['queues', '--json'], env);

    // THEN
    expect(JSON.parse(run.stdout)).toStrictEqual(queues);
  });
});

describe('drivetrain (all commands)', () => {
  it('sends no team header when no team is configured', async () => {
    // GIVEN
    const { api, env } = await serve(() => ok({ jobs: [] }));

    // WHEN
    await runCli(['list'], env);

    // THEN
    expect(api.requests[0]?.headers['x-drivetrain-team']).toBeUndefined();
  });

  it('keeps the stage path of --api in front of every route', async () => {
    // GIVEN
    const { api } = await serve(() => ok({ jobs: [] }));

    // WHEN
    await runCli(['list', '--api', `${api.url}/dev/`, '--team', 'planning']);

    // THEN
    expect(api.requests[0]).toMatchObject({
      path: '/dev/jobs',
      headers: { 'x-drivetrain-team': 'planning' },
    });
  });

  it('exits 1 with a one-line message when the API is unreachable', async () => {
    // GIVEN a port nothing listens on
    const { env } = await serve(() => ok({}));
    await stopApi();

    // WHEN
    const run = await runCli(['queues'], env);

    // THEN
    expect(run).toMatchObject({ code: 1, stderr: `error: cannot reach ${env.DRIVETRAIN_API}: ECONNREFUSED` });
  });

  it('exits 2 for an unknown command or flag', async () => {
    expect(await runCli(['launch'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'launch'"),
    });
    expect(await runCli(['list', '--colour'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("'--colour'"),
    });
  });

  it('prints per-command help with the global options', async () => {
    const run = await runCli(['submit', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: drivetrain submit');
    expect(run.stdout).toContain('--memory <size>');
    expect(run.stdout).toContain('--api <url>');
  });
});
