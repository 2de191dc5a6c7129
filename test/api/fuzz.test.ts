import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApi } from '../../api/app';
import { LOCAL_TEAM_HEADER, localHeaderTeam } from '../../api/identity';
import { environmentConfig } from '../../config/environments';
import type { JobRecord } from '../../jobs/job';
import { JobService } from '../../jobs/service';
import type { JobSpecInput } from '../../jobs/spec';
import type { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import type { LocalDynamoDb } from '../../local/dynalite';
import { localStore } from '../jobs/store-fixture';

const environment = environmentConfig('dev');
let db: LocalDynamoDb;
let store: DynamoDbJobStore;
let app: ReturnType<typeof createApi>;
let stored: JobRecord[];

const valid: JobSpecInput = {
  name: 'train',
  image: 'python:3.11',
  command: ['python', 'train.py'],
  resources: { gpus: 1, gpuType: 'a10g', cpus: 4, memoryMiB: 8192 },
  idempotencyKey: 'fuzz-anchor',
};

beforeAll(async () => {
  ({ db, store } = await localStore());
  const service = new JobService({ store, environment });
  app = createApi({
    service,
    resolveTeam: localHeaderTeam(environment),
    queues: async () => ({ teams: [], pools: [] }),
  });
  stored = [];
  for (let i = 0; i < 3; i++)
    stored.push(
      (await service.submit('perception', { ...valid, name: `anchor-${i}`, idempotencyKey: `anchor-${i}` }))
        .job,
    );
});
afterAll(() => db.close());

const headers = { 'content-type': 'application/json', [LOCAL_TEAM_HEADER]: 'perception' };

/** Every error a client gets is a 4xx naming at least one field, never a 5xx. */
async function expectClientError(response: Response) {
  expect(response.status, await response.clone().text()).toBeLessThan(500);
  if (response.status >= 400) {
    const body = (await response.json()) as { fields?: { field: string; reason: string }[] };
    expect(body.fields?.length).toBeGreaterThan(0);
    for (const f of body.fields ?? []) {
      expect(f.field.length).toBeGreaterThan(0);
      expect(f.reason.length).toBeGreaterThan(0);
    }
  }
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '../../etc/passwd',
    '<script>',
    "'; DROP TABLE jobs;--",
    '💥'.repeat(50),
    'a'.repeat(5000),
  ),
);
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.constantFrom(null, true, false, -1, 0, 1e308, Number.MAX_SAFE_INTEGER + 2),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A valid spec with one field replaced, removed or added: the inputs most likely to slip through. */
const mutatedSpec = fc
  .tuple(
    fc.constantFrom(
      'name',
      'image',
      'command',
      'args',
      'env',
      'resources',
      'priorityClass',
      'preemptible',
      'maxRuntimeS',
      'retries',
      'backend',
      'tags',
      'idempotencyKey',
      'resources.gpus',
      'resources.gpuType',
      'resources.cpus',
      'resources.memoryMiB',
      'resources.nodes',
      'unexpected',
      '__proto__',
      'constructor',
    ),
    hostileValue,
    fc.boolean(),
  )
  .map(([path, value, remove]) => {
    const spec = structuredClone(valid) as Record<string, unknown>;
    const [head, tail] = path.split('.') as [string, string | undefined];
    const target = tail ? (spec[head] as Record<string, unknown>) : spec;
    const key = tail ?? head;
    if (remove) delete target[key];
    else target[key] = value;
    spec.idempotencyKey = undefined;
    return spec;
  });

describe('fuzzing the job API', () => {
  test('10,000 hostile bodies, query strings and paths: no 5xx, every 4xx names a field', async () => {
    const bodies = fc.oneof(
      mutatedSpec.map((spec) => JSON.stringify(spec)),
      hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '{"name":', '[]', 'null', '"x"', '{"resources": {"nodes": 1e999}}', '\uFEFF{}'),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        await expectClientError(await app.request('/jobs', { method: 'POST', headers, body }));
      }),
      { numRuns: 6_000, seed: 4242 },
    );

    const queries = fc.dictionary(
      fc.constantFrom('state', 'limit', 'nextToken', 'team', 'x'),
      hostileString,
      { maxKeys: 4 },
    );
    await fc.assert(
      fc.asyncProperty(queries, async (query) => {
        const qs = new URLSearchParams(query as Record<string, string>).toString();
        await expectClientError(await app.request(`/jobs?${qs}`, { headers }));
      }),
      { numRuns: 2_500, seed: 4243 },
    );

    await fc.assert(
      fc.asyncProperty(hostileString, fc.constantFrom('GET', 'DELETE'), async (id, method) => {
        await expectClientError(await app.request(`/jobs/${encodeURIComponent(id)}`, { method, headers }));
      }),
      { numRuns: 1_500, seed: 4244 },
    );
  });

  test('stored jobs are untouched by all of it', async () => {
    for (const job of stored) {
      expect(await store.get(job.id)).toEqual(job);
    }
  });

  test('an oversized body is refused with 413 before it is parsed', async () => {
    const body = JSON.stringify({ ...valid, env: { BIG: 'x'.repeat(100_000) } });

    const response = await app.request('/jobs', { method: 'POST', headers, body });

    expect(response.status).toBe(413);
    expect(((await response.json()) as { fields: { field: string }[] }).fields[0]?.field).toBe('(body)');
  });
});
