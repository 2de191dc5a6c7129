import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApi, LOCAL_HOSTS } from '../../api/app';
import { AmbiguousPrincipal, iamPrincipalTeam, LOCAL_TEAM_HEADER, localHeaderTeam } from '../../api/identity';
import { openApiDocument } from '../../api/openapi';
import { environmentConfig } from '../../config/environments';
import { localPools, teamsOf } from '../../jobs/cluster';
import { buildQueueReport, queueReport } from '../../jobs/queues';
import { JobService } from '../../jobs/service';
import type { JobSpecInput } from '../../jobs/spec';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { localStore } from '../jobs/store-fixture';

const environment = environmentConfig('dev');
const pools = localPools(environment, { nodesPerPool: 1, gpusPerNode: 4 });
const teams = teamsOf(environment);
let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let service: JobService;
let app: ReturnType<typeof createApi>;

const cpuJob = (name: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput => ({
  name,
  image: 'python:3.11',
  command: ['python', 'train.py'],
  resources: { gpus: 0, cpus: 1, memoryMiB: 512 },
  ...overrides,
});

beforeAll(async () => {
  ({ db, store } = await localStore());
  service = new JobService({ store, environment });
  app = createApi({
    service,
    resolveTeam: localHeaderTeam(environment),
    queues: () => queueReport(store, pools, teams),
    allowedHosts: LOCAL_HOSTS,
  });
});
afterAll(() => db.close());

const request = (path: string, init: RequestInit & { team?: string; host?: string } = {}) =>
  app.request(path, {
    ...init,
    headers: {
      host: init.host ?? '127.0.0.1:8787',
      [LOCAL_TEAM_HEADER]: init.team ?? 'perception',
      'content-type': 'application/json',
    },
  });
const fieldsOf = async (response: Response) =>
  ((await response.json()) as { fields: { field: string }[] }).fields.map((f) => f.field);

describe('regressions of the hostile-input review', () => {
  test('a crafted nextToken with empty key strings is a 400 naming nextToken, not a 500', async () => {
    const token = Buffer.from(JSON.stringify({ id: '', team: 'perception', submittedKey: '' })).toString(
      'base64url',
    );

    const response = await request(`/jobs?nextToken=${token}`);

    expect(response.status).toBe(400);
    expect(await fieldsOf(response)).toEqual(['nextToken']);
  });

  test('an empty attempt= or offset= is a 400 naming the field, not attempt 0', async () => {
    const { job } = await service.submit('perception', cpuJob('logs'));

    for (const query of ['attempt=', 'offset=', 'attempt=1e0', 'offset=-1']) {
      const response = await request(`/jobs/${job.id}/logs?${query}`);

      expect(response.status, query).toBe(400);
      expect(await fieldsOf(response)).toEqual([query.split('=')[0]]);
    }
  });

  test('gpuType "constructor" on a CPU job does not leak a function into the queue report', async () => {
    const { job } = await service.submit(
      'perception',
      cpuJob('proto', { resources: { gpus: 0, gpuType: 'constructor', cpus: 1, memoryMiB: 512 } }),
    );

    const report = buildQueueReport({ pending: [], active: [{ ...job, state: 'RUNNING' }], pools, teams });

    const perception = report.teams.find((t) => t.team === 'perception')!;
    expect(perception.gpusInUse).toEqual({ cpu: 0 });
    expect(JSON.stringify(report)).not.toContain('function');
  });

  test("/queues shows other teams' counts, never their job ids or names", async () => {
    const { job: theirs } = await service.submit('mapping', cpuJob('secret-project'));
    const { job: mine } = await service.submit('perception', cpuJob('my-job'));

    const response = await request('/queues');
    const body = await response.text();

    expect(response.status).toBe(200);
    const report = JSON.parse(body) as {
      teams: { team: string; pending: number; heads: { id: string }[] }[];
    };
    const mapping = report.teams.find((t) => t.team === 'mapping')!;
    expect(mapping.pending).toBeGreaterThanOrEqual(1);
    expect(mapping.heads).toEqual([]);
    expect(body).not.toContain(theirs.id);
    expect(body).not.toContain('secret-project');
    expect(report.teams.find((t) => t.team === 'perception')!.heads.map((h) => h.id)).toContain(mine.id);
  });

  test('the local server answers 403 to a Host that is not a loopback name (DNS rebinding)', async () => {
    const foreign = await request('/queues', { host: 'attacker.example:8787' });
    const loopback = await request('/queues', { host: 'localhost:8787' });

    expect(foreign.status).toBe(403);
    expect(await fieldsOf(foreign)).toEqual(['Host']);
    expect(loopback.status).toBe(200);
    expect((await request('/openapi.json', { host: 'attacker.example' })).status).toBe(403);
  });

  test('a role listed under two teams is refused, not silently given to the last', () => {
    const role = 'arn:aws:iam::111111111111:role/researchers';
    const twice = {
      ...environment,
      teams: environment.teams.map((t, i) => (i < 2 ? { ...t, principals: [role] } : t)),
    };

    expect(() => iamPrincipalTeam(twice)).toThrow(AmbiguousPrincipal);
    expect(() => iamPrincipalTeam(twice)).toThrow(/researchers is listed under teams/);
  });

  test('the OpenAPI document lists every status each route answers', () => {
    const paths = openApiDocument().paths as Record<string, Record<string, { responses: object }>>;
    const statuses = (path: string, method: string) => Object.keys(paths[path]![method]!.responses).sort();

    expect(statuses('/jobs', 'post')).toEqual([
      '200',
      '201',
      '400',
      '401',
      '403',
      '409',
      '413',
      '429',
      '431',
    ]);
    expect(statuses('/jobs', 'get')).toEqual(['200', '400', '401', '403', '429', '431']);
    expect(statuses('/jobs/{id}', 'get')).toEqual(['200', '400', '401', '403', '404', '429', '431']);
    expect(statuses('/jobs/{id}', 'delete')).toEqual([
      '202',
      '400',
      '401',
      '403',
      '404',
      '409',
      '429',
      '431',
    ]);
    expect(statuses('/jobs/{id}/logs', 'get')).toEqual(['200', '400', '401', '403', '404', '429', '431']);
    expect(statuses('/queues', 'get')).toEqual(['200', '401', '403', '429', '431']);
  });
});
