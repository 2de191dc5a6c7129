import { afterEach, describe, expect, it } from 'vitest';
import { createApi } from '../../api/app';
import { iamPrincipalTeam, localHeaderTeam } from '../../api/identity';
import { environmentConfig } from '../../config/environments';
import type { JobService } from '../../jobs/service';
import { runCli } from './cli-harness';
import { type FakeApi, startFakeApi } from './fake-api';

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe('drivetrain whoami', () => {
  it('prints the team the API maps the caller to', async () => {
    api = await startFakeApi(() => ({ status: 200, body: { team: 'perception' } }));

    const run = await runCli(['whoami', '--team', 'perception'], { DRIVETRAIN_API: api.url });

    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('team perception');
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: '/whoami' });
  });

  it('exits non-zero with the API message when the caller maps to no team', async () => {
    api = await startFakeApi(() => ({
      status: 401,
      body: { error: 'Unauthorized', message: 'the caller is not a member of any team', fields: [] },
    }));

    const run = await runCli(['whoami'], { DRIVETRAIN_API: api.url });

    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('the caller is not a member of any team');
  });
});

describe('GET /whoami', () => {
  const staging = environmentConfig('staging');
  const app = (resolveTeam: Parameters<typeof createApi>[0]['resolveTeam']) =>
    createApi({ service: {} as JobService, resolveTeam, queues: async () => ({ teams: [], pools: [] }) });

  it("on a deployed API, maps an assumed-role session of a team's role to that team", async () => {
    const role = staging.teams.find((t) => t.name === 'planning')!.principals[0]!;
    const [, account, name] = /^arn:aws:iam::(\d+):role\/(.+)$/.exec(role)!;
    const event = {
      requestContext: { identity: { userArn: `arn:aws:sts::${account}:assumed-role/${name}/alice` } },
    };

    const response = await app(iamPrincipalTeam(staging)).request('/whoami', {}, { event });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ team: 'planning' });
  });

  it('answers 401 to a principal of no team', async () => {
    const event = {
      requestContext: { identity: { userArn: 'arn:aws:sts::222222222222:assumed-role/intruder/eve' } },
    };

    const response = await app(iamPrincipalTeam(staging)).request('/whoami', {}, { event });

    expect(response.status).toBe(401);
  });

  it('locally, reports the team the header names', async () => {
    const response = await app(localHeaderTeam(environmentConfig('dev'))).request('/whoami', {
      headers: { 'X-Drivetrain-Team': 'mapping' },
    });

    expect(await response.json()).toEqual({ team: 'mapping' });
  });
});
