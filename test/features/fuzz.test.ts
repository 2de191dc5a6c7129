import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LOCAL_TEAM_HEADER } from '../../api/identity';
import { entityKey } from '../../features/online/entity-key';
import type { ViewRecord } from '../../features/online/record';
import { createFeatureApi } from '../../features/serving/app';
import {
  catalog,
  type FeatureStack,
  featureStack,
  type LocalServices,
  recordOf,
  startServices,
} from './fixtures';

let services: LocalServices;
let stack: FeatureStack;
let app: ReturnType<typeof createFeatureApi>;
const drive = catalog.entities.get('drive')!;
const anchors = ['anchor-0', 'anchor-1', 'anchor-2'];
const anchorRecords = new Map<string, ViewRecord>();

beforeAll(async () => {
  services = await startServices();
  stack = await featureStack(services);
  const teams = new Set(['perception', 'planning', 'prediction', 'mapping']);
  app = createFeatureApi({
    serving: stack.serving,
    reader: stack.reader,
    resolveTeam: (c) => {
      const team = c.req.header(LOCAL_TEAM_HEADER);
      return team && teams.has(team) ? team : undefined;
    },
  });
  for (const [i, id] of anchors.entries()) {
    const record = recordOf('drive_motion', stack.clock.nowMs + 3_600_000, i);
    anchorRecords.set(id, record);
    await stack.writer.write([{ key: entityKey(drive, [id]), view: 'drive_motion', record }]);
  }
});
afterAll(async () => {
  stack.close();
  await services.close();
});

const headers = { 'content-type': 'application/json', [LOCAL_TEAM_HEADER]: 'planning' };

/** No 5xx; every 4xx names at least one field, in our `fields` or inside Feast's error detail string. */
async function expectClientError(response: Response) {
  const text = await response.text();
  expect(response.status, text).toBeLessThan(500);
  if (response.status < 400) return;
  let body = JSON.parse(text) as unknown;
  if (typeof body === 'string') {
    body = JSON.parse(body);
    expect(body).toMatchObject({
      module: 'feast.errors',
      class: expect.any(String),
      message: expect.any(String),
    });
  }
  const fields = (body as { fields?: { field: string; reason: string }[] }).fields ?? [];
  expect(fields.length, text).toBeGreaterThan(0);
  for (const f of fields) {
    expect(f.field.length).toBeGreaterThan(0);
    expect(f.reason.length).toBeGreaterThan(0);
  }
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'drive_motion:',
    ':x',
    'a:b:c',
    '../../etc',
    "'; DROP",
    '💥'.repeat(30),
    'a'.repeat(3000),
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

const validRead = {
  features: ['drive_motion:speed_mean_mps', 'drive_imu:imu_samples'],
  entities: { drive_id: ['fuzz-a', 'fuzz-b'] },
  full_feature_names: false,
};
const motionFeatures = catalog.views.get('drive_motion')!.definition.features;
const validPush = {
  push_source_name: 'drive_motion_push',
  to: 'online',
  df: {
    drive_id: ['fuzz-p'],
    event_timestamp: ['2025-01-01 00:00:00'],
    ...Object.fromEntries(motionFeatures.map((f) => [f.name, [f.type === 'Int64' ? 1 : 1.5]])),
  },
};

/** A valid body with one field replaced, removed or added. */
function mutated(valid: Record<string, unknown>, paths: string[]) {
  return fc.tuple(fc.constantFrom(...paths), hostileValue, fc.boolean()).map(([path, value, remove]) => {
    const body = structuredClone(valid) as Record<string, unknown>;
    const [head, tail] = path.split('.') as [string, string | undefined];
    const target = tail ? (body[head] as Record<string, unknown>) : body;
    const key = tail ?? head;
    if (remove) delete target[key];
    else target[key] = value;
    return JSON.stringify(body);
  });
}

describe('fuzzing the feature API', () => {
  test('6,000 hostile read and push bodies: no 5xx, every 4xx names a field', async () => {
    const reads = fc.oneof(
      mutated(validRead, [
        'features',
        'entities',
        'feature_service',
        'full_feature_names',
        'entities.drive_id',
        'entities.vehicle_id',
        '__proto__',
      ]),
      hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '{',
        '[]',
        'null',
        '{"entities":{"drive_id":[1e999]},"features":["drive_motion:speed_mean_mps"]}',
      ),
    );
    await fc.assert(
      fc.asyncProperty(reads, async (body) => {
        await expectClientError(await app.request('/get-online-features', { method: 'POST', headers, body }));
      }),
      { numRuns: 3_500, seed: 1111 },
    );
    const pushes = fc.oneof(
      mutated(validPush, [
        'push_source_name',
        'to',
        'df',
        'df.drive_id',
        'df.event_timestamp',
        'df.speed_mean_mps',
        'df.speed_samples',
        'df.created',
      ]),
      hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
    );
    await fc.assert(
      fc.asyncProperty(pushes, async (body) => {
        await expectClientError(await app.request('/push', { method: 'POST', headers, body }));
      }),
      { numRuns: 2_500, seed: 1112 },
    );
  });

  test('stored features are untouched by all of it', async () => {
    const stored = await stack.store.read(
      anchors.map((id) => entityKey(drive, [id])),
      ['drive_motion'],
    );
    for (const id of anchors) {
      const record = stored.get(entityKey(drive, [id]))?.get('drive_motion');
      // Field by field: a record read back parses its values on demand.
      expect(record && { ...record, values: record.values }).toEqual(anchorRecords.get(id));
    }
  });

  test("an unknown caller is 401, another team's service is 403, an oversized body is 413", async () => {
    const body = JSON.stringify({ feature_service: 'vehicle_safety', entities: { vehicle_id: ['v'] } });
    const anonymous = await app.request('/get-online-features', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const forbidden = await app.request('/get-online-features', {
      method: 'POST',
      body,
      headers: { ...headers, [LOCAL_TEAM_HEADER]: 'perception' },
    });
    const huge = await app.request('/get-online-features', {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...validRead, entities: { drive_id: ['x'.repeat(300_000)] } }),
    });

    expect([anonymous.status, forbidden.status, huge.status]).toEqual([401, 403, 413]);
    expect(JSON.parse((await forbidden.json()) as string)).toMatchObject({ class: 'FeastPermissionError' });
  });
});
