import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { REGISTRY_PATH } from '../../features/definitions/registry';
import { entityKey } from '../../features/online/entity-key';
import { type LocalFeatureServer, startLocalFeatureServer } from '../../local/features/feature-server';
import { catalog, type LocalServices, recordOf, startServices } from './fixtures';

const root = join(import.meta.dirname, '..', '..');
const feastPython = join(root, '.venv-feast', 'bin', 'python');
const run = promisify(execFile);

let services: LocalServices;
let server: LocalFeatureServer;
let scratch: string;
const now = Date.now();

beforeAll(async () => {
  services = await startServices();
  scratch = mkdtempSync(join(tmpdir(), 'drivetrain-feast-'));
  server = await startLocalFeatureServer({
    environment: environmentConfig('dev'),
    db: services.db,
    redis: services.redis,
    port: 0,
    dataDir: scratch,
    defaultTeam: 'planning',
  });
  const drive = catalog.entities.get('drive')!;
  const key = (id: string) => entityKey(drive, [id]);
  await server.writer.write([
    ...['drive_motion', 'drive_imu', 'drive_hard_braking'].flatMap((view) => [
      { key: key('d1'), view, record: recordOf(view, now - 60_000, 1) },
      { key: key('d2'), view, record: recordOf(view, now - 60_000, 2) },
    ]),
    { key: key('d1'), view: 'drive_second_motion', record: recordOf('drive_second_motion', now - 5_000, 7) },
    {
      key: key('d2'),
      view: 'drive_second_motion',
      record: recordOf('drive_second_motion', now - 7_200_000, 8),
    },
  ]);
});
afterAll(async () => {
  await server?.close();
  await services?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs Feast's own client (PyPI, .venv-feast) with its remote online store pointed at our server. */
async function feastClient(requests: unknown[]): Promise<Record<string, unknown>[]> {
  const requestsPath = join(scratch, 'requests.json');
  writeFileSync(requestsPath, JSON.stringify(requests));
  const { stdout } = await run(
    feastPython,
    [
      join(root, 'features', 'feast', 'compat_client.py'),
      join(root, REGISTRY_PATH),
      server.url,
      join(scratch, 'repo'),
      requestsPath,
    ],
    {
      cwd: join(root, 'features', 'feast'),
      env: { ...process.env, FEAST_USAGE: 'False' },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>[];
}

describe("Feast's own client against Drivetrain's feature server", () => {
  test('get_online_features by service and by feature list, every status, and Feast errors', async () => {
    expect(existsSync(feastPython), 'run scripts/bootstrap.sh').toBe(true);

    const [byService, byList, unknownView] = await feastClient([
      {
        feature_service: 'drive_summary',
        entity_rows: [{ drive_id: 'd1' }, { drive_id: 'd2' }, { drive_id: 'gone' }],
      },
      {
        features: ['drive_second_motion:speed_mean_mps', 'drive_second_motion:speed_samples'],
        entity_rows: [{ drive_id: 'd1' }, { drive_id: 'd2' }, { drive_id: 'gone' }],
        full_feature_names: true,
      },
      { features: ['ghost_view:ghost_feature'], entity_rows: [{ drive_id: 'd1' }] },
    ]);

    const summary = byService!.ok as Record<string, unknown[]>;
    expect(summary.drive_id).toEqual(['d1', 'd2', 'gone']);
    expect(summary.speed_mean_mps).toEqual([1, 2, null]);
    expect(summary.speed_samples).toEqual([20, 30, null]);
    expect(summary.accel_norm_mean_mps2).toEqual([1, 2, null]);
    expect(summary.hard_brake_count).toEqual([10, 20, null]);
    expect(Object.keys(summary)).toHaveLength(1 + 11 + 7 + 3);

    // d2's latest second is two hours old: OUTSIDE_MAX_AGE, withheld.
    expect(byList!.ok).toEqual({
      drive_id: ['d1', 'd2', 'gone'],
      drive_second_motion__speed_mean_mps: [7, null, null],
      drive_second_motion__speed_samples: [75, null, null],
    });

    // Our 404 carries Feast's error detail, so Feast's client raises Feast's own exception.
    expect(unknownView).toMatchObject({ error: 'FeatureViewNotFoundException' });
    expect(String(unknownView!.message)).toContain('ghost_view');
  });

  test('the HTTP response is the JSON Feast writes: column-major results with statuses and timestamps', async () => {
    const response = await fetch(`${server.url}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        features: ['drive_second_motion:speed_mean_mps'],
        entities: { drive_id: ['d1', 'd2', 'gone'] },
      }),
    });
    const body = (await response.json()) as { metadata: unknown; results: { statuses: string[] }[] };

    expect(response.status).toBe(200);
    expect(body.metadata).toEqual({ feature_names: ['drive_id', 'speed_mean_mps'] });
    expect(body.results[1]!.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
  });
});
