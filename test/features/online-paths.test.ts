import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { entityKey } from '../../features/online/entity-key';
import { ensureOnlineTable } from '../../features/online/online-table';
import { MISSING } from '../../features/online/ports';
import { decodeRecord } from '../../features/online/record';
import { RedisFeatureCache } from '../../features/online/redis-cache';
import {
  catalog,
  type FeatureStack,
  featureStack,
  type LocalServices,
  recordOf,
  startServices,
} from './fixtures';

let services: LocalServices;
beforeAll(async () => {
  services = await startServices();
});
afterAll(() => services.close());

const drive = catalog.entities.get('drive')!;
const key = (id: string) => entityKey(drive, [id]);
const write = (
  stack: FeatureStack,
  view: string,
  id: string,
  eventMs: number,
  seed = 1,
  createdMs = eventMs,
) => stack.writer.write([{ key: key(id), view, record: recordOf(view, eventMs, seed, createdMs) }]);
const summary = (stack: FeatureStack, ids: string[]) =>
  stack.serving.getOnlineFeatures('planning', {
    feature_service: 'drive_summary',
    entities: { drive_id: ids },
  });

describe('read and write paths on dynalite and redis-server', () => {
  let stack: FeatureStack;
  beforeAll(async () => {
    stack = await featureStack(services);
  });
  afterAll(() => stack.close());

  test('a service read returns join keys first, then every feature of every view, column by column', async () => {
    const t = stack.clock.nowMs - 60_000;
    await write(stack, 'drive_motion', 'd1', t, 3);
    await write(stack, 'drive_imu', 'd1', t, 4);
    await write(stack, 'drive_hard_braking', 'd1', t, 5);

    const response = await summary(stack, ['d1', 'nope']);

    const names = response.metadata.feature_names;
    expect(names[0]).toBe('drive_id');
    expect(names).toHaveLength(1 + 11 + 7 + 3);
    expect(response.results[0]).toEqual({
      values: ['d1', 'nope'],
      statuses: ['PRESENT', 'PRESENT'],
      event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'],
    });
    const speedMean = response.results[names.indexOf('speed_mean_mps')]!;
    expect(speedMean.values).toEqual([3, null]);
    expect(speedMean.statuses).toEqual(['PRESENT', 'NOT_FOUND']);
    expect(speedMean.event_timestamps).toEqual([
      new Date(t).toISOString().replace('.000Z', 'Z'),
      '1970-01-01T00:00:00Z',
    ]);
    expect(response.results[names.indexOf('hard_brake_count')]!.values).toEqual([50, null]);
  });

  test('a null value is NULL_VALUE, a value older than its view TTL is OUTSIDE_MAX_AGE and withheld', async () => {
    const record = recordOf('drive_second_motion', stack.clock.nowMs - 10_000);
    await stack.writer.write([
      {
        key: key('live'),
        view: 'drive_second_motion',
        record: { ...record, values: [1.5, null, 2, 0, 0, 7] },
      },
      {
        key: key('old'),
        view: 'drive_second_motion',
        record: recordOf('drive_second_motion', stack.clock.nowMs - 3_601_000),
      },
    ]);

    const response = await stack.serving.getOnlineFeatures('planning', {
      features: ['drive_second_motion:speed_mean_mps', 'drive_second_motion:speed_min_mps'],
      entities: { drive_id: ['live', 'old', 'never'] },
      full_feature_names: true,
    });

    expect(response.metadata.feature_names).toEqual([
      'drive_id',
      'drive_second_motion__speed_mean_mps',
      'drive_second_motion__speed_min_mps',
    ]);
    expect(response.results[1]!.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(response.results[1]!.values).toEqual([1.5, null, null]);
    expect(response.results[2]!.statuses).toEqual(['NULL_VALUE', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
  });

  test('an older write loses to a newer one in DynamoDB and in the cache, whatever the order', async () => {
    const first = await write(stack, 'drive_motion', 'order', 2_000, 2);
    const stale = await write(stack, 'drive_motion', 'order', 1_000, 1);
    const tie = await write(stack, 'drive_motion', 'order', 2_000, 3, 1_500);

    expect([first.written, stale.stale, tie.stale]).toEqual([1, 1, 1]);
    const stored = await stack.store.read([key('order')], ['drive_motion']);
    expect(stored.get(key('order'))?.get('drive_motion')?.eventTimeUs).toBe(2_000_000);
    const cached = await stack.redis.get(
      RedisFeatureCache.keyOf({
        key: key('order'),
        view: 'drive_motion',
        version: catalog.views.get('drive_motion')!.version,
      }),
    );
    expect(decodeRecord(cached!)?.values[0]).toBe(2);
  });

  test('a cache lookup reads exactly the keys keyOf names, for any join key text and view, URI-encoded or not', async () => {
    const views = ['drive_motion', 'drive_imu', 'drive_hard_braking'];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (ids) => {
          // Raw text too: the MGET is encoded apart for keys that are not ASCII.
          const keys = [...new Set(ids.flatMap((id) => [key(id), `drive#${id}`]))];
          const cells = views.flatMap((view) =>
            keys.map((k) => ({ key: k, view, version: catalog.views.get(view)!.version })),
          );
          const present = cells.filter((_, i) => i % 2 === 0);
          await stack.redis.del(...cells.map(RedisFeatureCache.keyOf));
          for (const [i, cell] of present.entries())
            await stack.redis.set(RedisFeatureCache.keyOf(cell), `1|1|${cell.version}|1|[${i % 10}]`);
          const found = await stack.cache.get(cells);
          expect(
            found.map((record) => (record && record !== MISSING ? record.values[0] : undefined)),
          ).toEqual(cells.map((_, i) => (i % 2 === 0 ? (i / 2) % 10 : undefined)));
        },
      ),
      { numRuns: 25, seed: 11 },
    );
  });

  test('an entity named twice in one request is looked up once and answered in both rows', async () => {
    await write(stack, 'drive_imu', 'twice', stack.clock.nowMs - 1_000, 7);
    const before = { ...stack.reader.stats };
    const response = await stack.serving.getOnlineFeatures('planning', {
      features: ['drive_imu:imu_samples', 'drive_motion:speed_mean_mps'],
      entities: { drive_id: ['twice', 'other', 'twice'] },
    });
    expect(response.results[1]!.values).toEqual([76, null, 76]);
    expect(response.results[1]!.statuses).toEqual(['PRESENT', 'NOT_FOUND', 'PRESENT']);
    expect(response.results[2]!.statuses).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    const { cacheHits, cacheMisses, cacheNegativeHits } = stack.reader.stats;
    // Two views x two distinct entities.
    expect(
      cacheHits +
        cacheMisses +
        cacheNegativeHits -
        before.cacheHits -
        before.cacheMisses -
        before.cacheNegativeHits,
    ).toBe(4);
  });

  test('reads go through the cache: a miss reads DynamoDB once and fills it, the next read hits', async () => {
    await stack.store.write([
      { key: key('cold'), view: 'drive_imu', record: recordOf('drive_imu', 5_000, 9) },
    ]);
    const request = { features: ['drive_imu:imu_samples'], entities: { drive_id: ['cold'] } };
    const before = { ...stack.reader.stats };

    const miss = await stack.serving.getOnlineFeatures('planning', request);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const hit = await stack.serving.getOnlineFeatures('planning', request);

    expect(miss.results[1]!.values).toEqual([96]);
    expect(hit.results[1]!.values).toEqual([96]);
    expect(stack.reader.stats.storeReads - before.storeReads).toBe(1);
    expect(stack.reader.stats.cacheHits - before.cacheHits).toBe(1);
  });

  test('a missing entity is cached negatively, and a later write replaces the negative entry', async () => {
    const request = { features: ['drive_imu:imu_samples'], entities: { drive_id: ['ghost'] } };
    const before = { ...stack.reader.stats };
    await stack.serving.getOnlineFeatures('planning', request);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await stack.serving.getOnlineFeatures('planning', request);

    expect(again.results[1]!.statuses).toEqual(['NOT_FOUND']);
    expect(stack.reader.stats.storeReads - before.storeReads).toBe(1);
    expect(stack.reader.stats.cacheNegativeHits - before.cacheNegativeHits).toBe(1);

    await write(stack, 'drive_imu', 'ghost', 7_000, 2);
    const found = await stack.serving.getOnlineFeatures('planning', request);
    expect(found.results[1]!.statuses).toEqual(['PRESENT']);
  });

  test('concurrent reads of one uncached entity share one DynamoDB read (single-flight)', async () => {
    await stack.store.write([
      { key: key('hot'), view: 'drive_imu', record: recordOf('drive_imu', 5_000, 1) },
    ]);
    const before = stack.reader.stats.storeReads;
    const request = { features: ['drive_imu:imu_samples'], entities: { drive_id: ['hot'] } };

    const responses = await Promise.all(
      Array.from({ length: 20 }, () => stack.serving.getOnlineFeatures('planning', request)),
    );

    expect(responses.every((r) => r.results[1]!.values[0] === 16)).toBe(true);
    expect(stack.reader.stats.storeReads - before).toBe(1);
  });

  test('250 entities are read in three BatchGetItem chunks, each entity with its own values', async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `bulk-${i}`);
    await stack.store.write(
      ids.map((id, i) => ({
        key: key(id),
        view: 'drive_motion',
        record: recordOf('drive_motion', 1_000, i),
      })),
    );

    const records = await stack.store.read(ids.map(key), ['drive_motion', 'drive_imu']);

    expect(records.size).toBe(250);
    ids.forEach((id, i) => {
      expect(records.get(key(id))?.get('drive_motion')?.values[0]).toBe(i);
      expect(records.get(key(id))?.has('drive_imu')).toBe(false);
    });
  });
});

describe('BatchGetItem retries UnprocessedKeys with backoff and jitter', () => {
  test('keys DynamoDB leaves unprocessed are retried until every one is read', async () => {
    const table = 'features-unprocessed';
    await ensureOnlineTable(services.db.client, table);
    const seeding = new DynamoDbOnlineStore(services.db.client, table);
    const ids = Array.from({ length: 100 }, (_, i) => key(`u${i}`));
    await seeding.write(
      ids.map((k, i) => ({ key: k, view: 'drive_motion', record: recordOf('drive_motion', 1_000, i) })),
    );
    // The real dynalite answer, with half of each response moved back to UnprocessedKeys (as a throttled table does).
    const client = new DynamoDBClient({
      endpoint: services.db.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const send = client.send.bind(client) as (command: unknown) => Promise<BatchGetItemCommandOutput>;
    let calls = 0;
    (client as { send: unknown }).send = async (command: unknown) => {
      const output = await send(command);
      if (!(command instanceof BatchGetItemCommand)) return output;
      calls++;
      const items = output.Responses?.[table] ?? [];
      const kept = items.slice(0, Math.ceil(items.length / 2));
      const deferred = items.slice(kept.length).map((item) => ({ key: item.key! }));
      return {
        ...output,
        Responses: { [table]: kept },
        UnprocessedKeys: deferred.length ? { [table]: { Keys: deferred } } : {},
      };
    };
    const delays: number[] = [];
    const store = new DynamoDbOnlineStore(client, table, {
      sleep: async (ms) => void delays.push(ms),
      random: () => 0.5,
    });

    const records = await store.read(ids, ['drive_motion']);

    expect(records.size).toBe(100);
    expect(calls).toBeGreaterThan(2);
    // Full jitter: half (random() = 0.5) of min(cap, base * 2^(retry - 1)).
    expect(delays.slice(0, 3)).toEqual([5, 10, 20]);
    client.destroy();
  });
});

describe('event-time ordering', () => {
  test('any interleaving of materialization writes, pushes and cache fills leaves the latest event everywhere', async () => {
    const stack = await featureStack(services);
    const op = fc.record({
      id: fc.constantFrom('p1', 'p2', 'p3'),
      eventS: fc.integer({ min: 1, max: 40 }),
      kind: fc.constantFrom('materialize', 'push', 'read'),
    });
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
        async (waves) => {
          const prefix = `r${round++}-`;
          const latest = new Map<string, number>();
          for (const wave of waves) {
            // Each wave runs at once: real concurrency against dynalite and redis-server.
            await Promise.all(
              wave.map(async ({ id, eventS, kind }) => {
                const eventMs = eventS * 1000;
                if (kind === 'read') {
                  await stack.serving.getOnlineFeatures('planning', {
                    features: ['drive_motion:speed_mean_mps'],
                    entities: { drive_id: [prefix + id] },
                  });
                  return;
                }
                latest.set(id, Math.max(latest.get(id) ?? 0, eventMs));
                if (kind === 'materialize') await write(stack, 'drive_motion', prefix + id, eventMs, eventS);
                else {
                  const values = recordOf('drive_motion', eventMs, eventS).values;
                  const df: Record<string, unknown[]> = {
                    drive_id: [prefix + id],
                    event_timestamp: [new Date(eventMs).toISOString()],
                  };
                  catalog.views.get('drive_motion')!.definition.features.forEach((f, i) => {
                    df[f.name] = [values[i]];
                  });
                  await stack.serving.push('planning', {
                    push_source_name: 'drive_motion_push',
                    df,
                    to: 'online',
                  });
                }
              }),
            );
          }
          // Fills by in-flight reads are not awaited by the reads themselves.
          await new Promise((resolve) => setTimeout(resolve, 30));
          for (const [id, eventMs] of latest) {
            const stored = (await stack.store.read([key(prefix + id)], ['drive_motion']))
              .get(key(prefix + id))
              ?.get('drive_motion');
            expect(stored?.eventTimeUs).toBe(eventMs * 1000);
            const cached = await stack.redis.get(
              RedisFeatureCache.keyOf({
                key: key(prefix + id),
                view: 'drive_motion',
                version: catalog.views.get('drive_motion')!.version,
              }),
            );
            if (cached && cached !== '-') expect(decodeRecord(cached)?.eventTimeUs).toBe(eventMs * 1000);
            const served = await stack.serving.getOnlineFeatures('planning', {
              features: ['drive_motion:speed_mean_mps'],
              entities: { drive_id: [prefix + id] },
            });
            expect(served.results[1]!.values[0]).toBe(eventMs / 1000);
          }
        },
      ),
      { numRuns: 40, seed: 1101 },
    );
    stack.close();
  });
});
