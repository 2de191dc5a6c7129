import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { icebergTables } from '../../local/etl/iceberg-tables';
import { etlPaths, LOCAL_NAMES } from '../../local/etl/ingest-runner';
import { localEtlSettings } from '../../local/etl/settings';
import { exactlyOnePositional, parseCommandArgs } from '../args';
import { printJson, printLines } from '../command';
import { CliError, EXIT, UsageError } from '../errors';
import type { CliIo } from '../io';
import { renderTable } from '../table';
import { parseCount } from '../units';

const SHOW_SCRIPT = join(import.meta.dirname, '..', '..', 'local', 'etl', 'show_table.py');
const CELL_WIDTH = 40;

export async function dataShow(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('data', argv, { limit: { type: 'string' } });
  const name = exactlyOnePositional('data show', positionals, 'table');
  const limit = parseCount('limit', values.limit, 1) ?? 10;
  const settings = localEtlSettings(io.env);
  const warehouse = etlPaths(settings.dataDir).warehouse;
  const tableName = name.split('.').at(-1)!;
  const tables = await icebergTables(warehouse);
  if (!tables.some((t) => t.name === tableName)) {
    throw new UsageError(`table: no table '${name}'; drivetrain data tables lists them`);
  }
  const { columns, rows } = await readRows(settings.job.python, warehouse, tableName, limit);
  if (values.json) printJson(io, { table: tableName, rows });
  else
    printLines(
      io,
      renderTable(
        columns,
        rows.map((row) => columns.map((c) => cell(row[c]))),
      ),
    );
  return EXIT.ok;
}

/** Rows through Spark and the same Hadoop catalog the ingest job commits to. */
function readRows(python: string, warehouse: string, table: string, limit: number) {
  return new Promise<{ columns: string[]; rows: Record<string, unknown>[] }>((resolve, reject) => {
    const child = spawn(python, [
      SHOW_SCRIPT,
      ...['--warehouse', pathToFileURL(warehouse).href, '--catalog', LOCAL_NAMES.catalog],
      ...['--database', LOCAL_NAMES.database, '--table', table, '--limit', String(limit)],
    ]);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err = (err + chunk).slice(-4000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new CliError(`reading ${table} failed:\n${err.trim()}`, EXIT.api));
      const [header, ...lines] = out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      resolve({ columns: header.columns as string[], rows: lines as Record<string, unknown>[] });
    });
  });
}

function cell(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > CELL_WIDTH ? `${text.slice(0, CELL_WIDTH - 1)}…` : text;
}
