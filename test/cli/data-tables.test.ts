import { describe, expect, it } from 'vitest';
import { renderTables, tableView } from '../../cli/commands/data-tables';
import type { IcebergTable } from '../../local/etl/iceberg-tables';
import type { RunRecord } from '../../local/etl/run-table';

const table = (name: string, snapshotId?: string): IcebergTable => ({
  database: 'sensor',
  name,
  location: `/warehouse/sensor/${name}`,
  formatVersion: 2,
  snapshotId,
  rows: snapshotId ? 10 : 0,
  dataFiles: snapshotId ? 2 : 0,
  totalBytes: snapshotId ? 4096 : 0,
  partitionFields: ['vehicle_id', 'log_time_day'],
  lastUpdated: '2026-12-01T00:00:00.000Z',
  snapshots: snapshotId ? 1 : 0,
});

const run = (
  runId: string,
  tables: Record<string, { snapshotId: string; partitions: unknown[] }>,
): RunRecord => ({
  runId,
  state: 'SUCCEEDED',
  keys: [],
  requestedObjects: 1,
  acceptedObjects: 1,
  acceptedBytes: 1,
  rejectedObjects: 0,
  skippedObjects: 0,
  manifest: {
    runId,
    schemaVersion: 1,
    startedAt: '2026-12-01T00:00:00Z',
    finishedAt: '2026-12-01T00:01:00Z',
    inputs: [],
    tables: Object.fromEntries(Object.entries(tables).map(([n, t]) => [n, { rows: 10, ...t }])),
  },
});

describe('drivetrain data tables', () => {
  // Snapshot ids above 2^53: equal as numbers after rounding, different as text.
  const runs = [
    run('run-2', { imu: { snapshotId: '9016729500334274847', partitions: [{}, {}, {}] } }),
    run('run-1', { imu: { snapshotId: '9016729500334274846', partitions: [{}] } }),
  ];

  it('reports the partitions of the run that committed the current snapshot, matched exactly', () => {
    expect(tableView(table('imu', '9016729500334274846'), runs)).toMatchObject({
      partitions: 1,
      committedBy: 'run-1',
    });
  });

  it('says 0 partitions for a table created by a run that wrote no rows to it (no snapshot)', () => {
    const view = tableView(table('msg_rcl_interfaces_parameterevent'), runs);
    expect(view.partitions).toBe(0);
    expect(renderTables([view])[1]).toMatch(/parameterevent\s+-\s+0\s+0\s+0\s/);
  });

  it('leaves the partitions unknown when no listed run committed the snapshot', () => {
    const view = tableView(table('imu', '123'), runs);
    expect(view.partitions).toBeUndefined();
    expect(renderTables([view])[1]).toContain('?');
  });
});
