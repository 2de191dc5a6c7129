import { afterAll, beforeAll, expect, test } from 'vitest';
import { entityKey } from '../../features/online/entity-key';
import { startLocalRedis } from '../../local/redis';
import { catalog, featureStack, type LocalServices, recordOf, startServices } from './fixtures';

let services: LocalServices;
beforeAll(async () => {
  services = await startServices();
});
afterAll(() => services.close());

test('redis-server is killed mid-test: every read still answers, from DynamoDB, without an error', async () => {
  // A redis-server of this test's own, so killing it leaves the shared one alone.
  const redis = await startLocalRedis();
  const stack = await featureStack(
    { ...services, redis },
    { timeoutMs: 250, cooldownMs: 100, negativeTtlMs: 30_000 },
  );
  const drive = catalog.entities.get('drive')!;
  const ids = Array.from({ length: 50 }, (_, i) => `fb-${i}`);
  await stack.writer.write(
    ids.map((id, i) => ({
      key: entityKey(drive, [id]),
      view: 'drive_motion',
      record: recordOf('drive_motion', 1_000, i),
    })),
  );
  const read = async (round: number) => {
    const id = round % ids.length;
    const response = await stack.serving.getOnlineFeatures('planning', {
      features: ['drive_motion:speed_mean_mps'],
      entities: { drive_id: [ids[id]!, 'fb-missing'] },
    });
    expect(response.results[1]!.values).toEqual([id, null]);
    expect(response.results[1]!.statuses).toEqual(['PRESENT', 'NOT_FOUND']);
  };

  for (let round = 0; round < 100; round++) await read(round);
  const hitsBefore = stack.reader.stats.cacheHits;
  expect(hitsBefore).toBeGreaterThan(0);

  const killed = new Promise((resolve) => redis.process.once('exit', resolve));
  const reads: Promise<void>[] = [];
  for (let round = 0; round < 200; round++) {
    if (round === 50) redis.process.kill('SIGKILL');
    reads.push(read(round));
    if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(reads);
  await killed;
  for (let round = 0; round < 100; round++) await read(round);

  expect(stack.reader.stats.cacheFallbacks).toBeGreaterThan(0);
  stack.close();
  await redis.close();
});

test('redis-server stops answering (SIGSTOP) under concurrent load: reads time out to DynamoDB, none fails, and return to the cache', async () => {
  const redis = await startLocalRedis();
  const stack = await featureStack(
    { ...services, redis },
    { timeoutMs: 50, cooldownMs: 300, negativeTtlMs: 30_000 },
  );
  const drive = catalog.entities.get('drive')!;
  const ids = Array.from({ length: 100 }, (_, i) => `slow-${i}`);
  await stack.writer.write(
    ids.map((id, i) => ({
      key: entityKey(drive, [id]),
      view: 'drive_motion',
      record: recordOf('drive_motion', 1_000, i),
    })),
  );
  // Every request reads all 100 entities (the bench's 100-row case) and checks each value.
  const read = async () => {
    const response = await stack.serving.getOnlineFeatures('planning', {
      features: ['drive_motion:speed_mean_mps'],
      entities: { drive_id: ids },
    });
    expect(response.results[1]!.values).toEqual(ids.map((_, i) => i));
    expect(new Set(response.results[1]!.statuses)).toEqual(new Set(['PRESENT']));
  };
  await Promise.all(Array.from({ length: 20 }, read));
  const fallbacksBefore = stack.reader.stats.cacheFallbacks;

  redis.process.kill('SIGSTOP');
  try {
    await Promise.all(Array.from({ length: 40 }, read));
    expect(stack.reader.stats.cacheFallbacks).toBeGreaterThan(fallbacksBefore);
  } finally {
    redis.process.kill('SIGCONT');
  }
  // Past the cool-down (the reader's clock) the cache answers again, once it has worked off what queued up meanwhile.
  const deadline = Date.now() + 10_000;
  let hits = stack.reader.stats.cacheHits;
  while (stack.reader.stats.cacheHits < hits + ids.length && Date.now() < deadline) {
    hits = stack.reader.stats.cacheHits;
    stack.clock.nowMs += 1_000;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await read();
  }
  expect(stack.reader.stats.cacheHits).toBe(hits + ids.length);
  stack.close();
  await redis.close();
});
