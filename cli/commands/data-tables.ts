import { type IcebergTable, icebergTables } from '../../local/etl/iceberg-tables';
import { etlPaths } from '../../local/etl/ingest-runner';
import type { RunRecord } from '../../local/etl/run-table';
import { openLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { parseCommandArgs } from '../args';
import { printJson, printLines } from '../command';
import { EXIT, UsageError } from '../errors';
import { formatTime } from '../format';
import type { CliIo } from '../io';
import { renderTable } from '../table';

export interface TableView extends IcebergTable {
  /** Partitions the current snapshot holds, as the run that committed it reported. */
  readonly partitions?: number;
  readonly committedBy?: string;
}

export async function dataTables(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('data', argv, {});
  if (positionals.length > 0)
    throw new UsageError(`data tables takes no arguments, got ${positionals.join(' ')}`);
  const tables = await localTables(io);
  if (values.json) printJson(io, { tables });
  else
    printLines(
      io,
      tables.length === 0 ? ['no tables yet: drivetrain data ingest <file>...'] : renderTables(tables),
    );
  return EXIT.ok;
}

/** The warehouse's tables, each with the partition count its latest run's manifest gives. */
export async function localTables(io: CliIo): Promise<TableView[]> {
  const settings = localEtlSettings(io.env);
  const tables = await icebergTables(etlPaths(settings.dataDir).warehouse);
  const etl = await openLocalEtl(settings);
  try {
    const runs = await etl.runs.runs(200);
    return tables.map((table) => tableView(table, runs));
  } finally {
    await etl.close();
  }
}

/** A table with what the run that committed its current snapshot reported about it. */
export function tableView(table: IcebergTable, runs: readonly RunRecord[]): TableView {
  // A run creates every table its plan names before any row is written: one whose messages
  // all went elsewhere (or none came) has no snapshot, and so no partition.
  if (table.snapshotId === undefined) return { ...table, partitions: 0 };
  // Snapshot ids are 64-bit strings: compared exactly, never as (rounded) numbers.
  const run = runs.find((r) => r.manifest?.tables[table.name]?.snapshotId === table.snapshotId);
  const partitions = run?.manifest?.tables[table.name]?.partitions;
  return {
    ...table,
    partitions: Array.isArray(partitions) ? partitions.length : undefined,
    committedBy: run?.runId,
  };
}

export function renderTables(tables: readonly TableView[]): string[] {
  return renderTable(
    ['TABLE', 'SNAPSHOT', 'ROWS', 'FILES', 'PARTITIONS', 'PARTITIONED BY', 'UPDATED'],
    tables.map((t) => [
      `${t.database}.${t.name}`,
      t.snapshotId ?? '-',
      String(t.rows),
      String(t.dataFiles),
      t.partitions === undefined ? '?' : String(t.partitions),
      t.partitionFields.join(', ') || '-',
      formatTime(t.lastUpdated) ?? '',
    ]),
  );
}
