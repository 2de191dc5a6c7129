import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { entityKey } from '../../features/online/entity-key';
import { jsonLines, loadDelta, WatermarkStore } from '../../features/online/online-loader';
import { ensureOnlineTable } from '../../features/online/online-table';
import { catalog, type FeatureStack, featureStack, type LocalServices, startServices } from './fixtures';

let services: LocalServices;
let stack: FeatureStack;
beforeAll(async () => {
  services = await startServices();
  stack = await featureStack(services);
});
afterAll(async () => {
  stack.close();
  await services.close();
});

const view = catalog.views.get('drive_imu')!;
const deltaLines = (eventUs: number, count: number) =>
  Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      drive_id: `load-${i}`,
      event_timestamp_us: eventUs,
      created_us: eventUs,
      ...Object.fromEntries(
        view.definition.features.map((f, j) => [f.name, f.type === 'Int64' ? i : i + j / 10]),
      ),
    }),
  ).join('\n');

describe('offline → online loading', () => {
  test('a delta streams in batches of the given size, and replaying it writes nothing', async () => {
    const batches: number[] = [];
    const first = await loadDelta(
      view,
      jsonLines(Readable.from([deltaLines(5_000_000, 7)])),
      stack.writer,
      3,
      (r) => batches.push(r.batches),
    );
    const replay = await loadDelta(
      view,
      jsonLines(Readable.from([deltaLines(5_000_000, 7)])),
      stack.writer,
      3,
    );
    const older = await loadDelta(
      view,
      jsonLines(Readable.from([deltaLines(1_000_000, 7)])),
      stack.writer,
      3,
    );

    expect(first).toEqual({ rows: 7, written: 7, stale: 0, batches: 3 });
    expect(batches).toEqual([1, 2, 3]);
    expect(replay.stale).toBe(7);
    expect(older.stale).toBe(7);
    const stored = await stack.store.read([entityKey(view.entity, ['load-4'])], ['drive_imu']);
    expect(stored.get(entityKey(view.entity, ['load-4']))?.get('drive_imu')?.values[0]).toBe(4);
  });

  test('a watermark only moves forward within a version, and restarts with a new version', async () => {
    const table = 'watermarks';
    await ensureOnlineTable(services.db.client, table);
    const watermarks = new WatermarkStore(services.db.client, table);
    const at = (version: string, sequence: number) => ({ version, sequence, loadedAtMs: 1 });

    const moves = [
      await watermarks.advance('drive_imu', at('v1', 3)),
      await watermarks.advance('drive_imu', at('v1', 3)),
      await watermarks.advance('drive_imu', at('v1', 2)),
      await watermarks.advance('drive_imu', at('v1', 5)),
      await watermarks.advance('drive_imu', at('v2', 1)),
    ];

    expect(moves).toEqual([true, false, false, true, true]);
    expect(await watermarks.get('drive_imu')).toEqual(at('v2', 1));
  });
});
