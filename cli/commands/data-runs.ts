import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { etlPaths, LOCAL_NAMES } from '../../local/etl/ingest-runner';
import type { RunRecord } from '../../local/etl/run-table';
import { openLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { runObjects } from '../../step-functions/ingest';
import { parseCommandArgs } from '../args';
import { printJson, printLines } from '../command';
import { EXIT, UsageError } from '../errors';
import { formatTime } from '../format';
import type { CliIo } from '../io';
import { renderFields, renderTable } from '../table';
import { parseCount } from '../units';

export async function dataRuns(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('data', argv, { limit: { type: 'string' } });
  if (positionals.length > 0)
    throw new UsageError(`data runs takes no arguments, got ${positionals.join(' ')}`);
  const limit = parseCount('limit', values.limit, 1) ?? 20;
  const etl = await openLocalEtl(localEtlSettings(io.env));
  try {
    const runs = await etl.runs.runs(limit);
    if (values.json) printJson(io, { runs });
    else
      printLines(
        io,
        runs.length === 0 ? ['no ingest runs yet: drivetrain data ingest <file>...'] : renderRuns(runs),
      );
    return EXIT.ok;
  } finally {
    await etl.close();
  }
}

/** Inputs the job quarantined (corrupt or undecodable content), from the run's manifest. */
const quarantined = (run: RunRecord) => run.manifest?.inputs.filter((input) => input.status !== 'ok') ?? [];
const totalRows = (run: RunRecord) =>
  Object.values(run.manifest?.tables ?? {}).reduce((sum, table) => sum + Number(table.rows), 0);

export function renderRuns(runs: readonly RunRecord[]): string[] {
  return renderTable(
    [
      'RUN',
      'STATE',
      'PHASE',
      'TRIGGER',
      'STARTED',
      'ENGINE',
      'OBJECTS',
      'INGESTED',
      'REJECTED',
      'QUARANTINED',
      'SKIPPED',
      'TABLES',
      'ROWS',
    ],
    runs.map((run) => [
      run.runId,
      run.state,
      run.state === 'FAILED' ? (run.error ?? '') : (run.phase ?? ''),
      run.trigger ?? '',
      formatTime(run.startedAt) ?? '',
      run.engine ?? '-',
      String(run.requestedObjects),
      String(run.acceptedObjects - quarantined(run).length),
      String(run.rejectedObjects),
      String(quarantined(run).length),
      String(run.skippedObjects),
      String(Object.keys(run.manifest?.tables ?? {}).length),
      String(totalRows(run)),
    ]),
  );
}

/** One run in detail: counts, the tables it committed, what it quarantined and why. */
export function renderRun(run: RunRecord): string[] {
  const tables = Object.entries(run.manifest?.tables ?? {});
  return [
    ...renderFields([
      ['run', run.runId],
      ['state', run.state],
      ['engine', run.engine],
      [
        'objects',
        `${run.requestedObjects} requested, ${run.acceptedObjects} accepted, ${run.rejectedObjects} rejected, ${run.skippedObjects} already ingested`,
      ],
      ['error', run.error ? `${run.error}: ${(run.errorCause ?? '').slice(0, 400)}` : undefined],
      ['manifest', run.manifestUri],
    ]),
    ...(tables.length > 0
      ? [
          '',
          ...renderTable(
            ['TABLE', 'ROWS', 'SNAPSHOT', 'PARTITIONS'],
            tables.map(([name, t]) => [
              name,
              String(t.rows),
              String(t.snapshotId),
              partitionText(t.partitions),
            ]),
          ),
        ]
      : []),
    ...quarantined(run).map((input) =>
      `quarantined ${input.uri}: ${input.reason ?? ''} ${input.detail ?? ''}`.trimEnd(),
    ),
  ];
}

function partitionText(partitions: unknown): string {
  return Array.isArray(partitions)
    ? String(partitions.length)
    : partitions === undefined
      ? '-'
      : String(partitions);
}

/** The reasons the workflow wrote for objects it rejected before any Spark ran. */
export async function rejectedReasons(dataDir: string, run: RunRecord): Promise<string[]> {
  const folder = join(
    etlPaths(dataDir).buckets,
    LOCAL_NAMES.quarantine,
    ...runObjects(run.runId).rejectedPrefix.split('/'),
  );
  const files = (await readdir(folder, { recursive: true }).catch(() => [] as string[])).filter((f) =>
    f.endsWith('.reason.json'),
  );
  const reasons = await Promise.all(
    files.map(
      async (file) =>
        JSON.parse(await readFile(join(folder, file), 'utf8')) as {
          uri: string;
          reason: string;
          detail: string;
        },
    ),
  );
  return reasons.map((r) => `rejected ${r.uri}: ${r.reason} (${r.detail})`);
}
