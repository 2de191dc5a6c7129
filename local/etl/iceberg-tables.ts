import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One Iceberg table of a Hadoop (file-system) catalog, read from its current metadata file. */
export interface IcebergTable {
  readonly database: string;
  readonly name: string;
  readonly location: string;
  readonly formatVersion: number;
  /** Undefined while the table has no snapshot. */
  readonly snapshotId?: string;
  readonly rows: number;
  readonly dataFiles: number;
  readonly totalBytes: number;
  readonly partitionFields: readonly string[];
  readonly lastUpdated: string;
  readonly snapshots: number;
}

interface TableMetadata {
  'format-version': number;
  location: string;
  'last-updated-ms': number;
  'current-snapshot-id'?: number | string | null;
  snapshots?: { 'snapshot-id': number | string; summary?: Record<string, string> }[];
  'default-spec-id'?: number;
  'partition-specs'?: { 'spec-id': number; fields: { name: string }[] }[];
}

/**
 * The tables of a Hadoop catalog warehouse: `<warehouse>/<database>/<table>/metadata/`,
 * whose `version-hint.text` names the current `v<N>.metadata.json`. Rows and files come from
 * the current snapshot's summary, which Iceberg keeps as running totals.
 */
export async function icebergTables(warehouse: string): Promise<IcebergTable[]> {
  const tables: IcebergTable[] = [];
  for (const database of await directories(warehouse)) {
    if (database.startsWith('_')) continue; // the job's staging area, not a namespace
    for (const name of await directories(join(warehouse, database))) {
      const table = await readTable(join(warehouse, database, name), database, name);
      if (table) tables.push(table);
    }
  }
  return tables.sort((a, b) => `${a.database}.${a.name}`.localeCompare(`${b.database}.${b.name}`));
}

const SNAPSHOT_ID_FIELDS = /("(?:current-snapshot-id|snapshot-id|parent-snapshot-id)"\s*:\s*)(-?\d+)/g;

async function readTable(folder: string, database: string, name: string): Promise<IcebergTable | undefined> {
  const metadataDir = join(folder, 'metadata');
  const hint = await readFile(join(metadataDir, 'version-hint.text'), 'utf8').catch(() => undefined);
  if (hint === undefined) return undefined;
  const text = await readFile(join(metadataDir, `v${hint.trim()}.metadata.json`), 'utf8');
  // Snapshot ids are 64-bit: read them as text, JavaScript numbers would round them.
  const metadata = JSON.parse(text.replace(SNAPSHOT_ID_FIELDS, '$1"$2"')) as TableMetadata;
  const currentId = metadata['current-snapshot-id'];
  const current =
    currentId === undefined || currentId === null || String(currentId) === '-1'
      ? undefined
      : metadata.snapshots?.find((s) => String(s['snapshot-id']) === String(currentId));
  const summary = current?.summary ?? {};
  const spec = metadata['partition-specs']?.find((s) => s['spec-id'] === metadata['default-spec-id']);
  return {
    database,
    name,
    location: metadata.location,
    formatVersion: metadata['format-version'],
    snapshotId: current ? String(current['snapshot-id']) : undefined,
    rows: Number(summary['total-records'] ?? 0),
    dataFiles: Number(summary['total-data-files'] ?? 0),
    totalBytes: Number(summary['total-files-size'] ?? 0),
    partitionFields: spec?.fields.map((f) => f.name) ?? [],
    lastUpdated: new Date(metadata['last-updated-ms']).toISOString(),
    snapshots: metadata.snapshots?.length ?? 0,
  };
}

async function directories(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}
