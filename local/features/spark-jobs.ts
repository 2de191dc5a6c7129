import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { FeatureCatalog } from '../../features/catalog';
import { REGISTRY_PATH } from '../../features/definitions/registry';
import {
  jsonLines,
  type LoadReport,
  loadDelta,
  type WatermarkStore,
} from '../../features/online/online-loader';
import type { OnlineWriter } from '../../features/online/online-writer';

const ROOT = join(import.meta.dirname, '..', '..');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');

/** Where the local Spark jobs find the ETL tables and keep the feature tables and deltas. */
export interface LocalSparkPaths {
  /** The Hadoop-catalog warehouse the ETL pillar writes (`.drivetrain/warehouse`). */
  readonly warehouse: string;
  /** Online deltas, run plans and offline pushes (`.drivetrain/features`). */
  readonly output: string;
}

/** One view's outcome, as the Spark job reports it (drivetrain_spark.features.materialize.ViewOutcome). */
export interface ViewOutcome {
  readonly view: string;
  readonly action: 'skipped' | 'incremental' | 'full' | 'empty';
  readonly reason: string;
  readonly rows_written: number;
  readonly entities_recomputed: number;
  readonly seconds: number;
  readonly delta: string | null;
}

export type MaterializeProgress =
  | { readonly type: 'view'; readonly outcome: ViewOutcome }
  | { readonly type: 'online'; readonly view: string; readonly report: LoadReport }
  | {
      readonly type: 'done';
      readonly runId: string;
      readonly skipped: string[];
      readonly loaded: Record<string, LoadReport>;
      /** One entity per loaded view, as join key values: what the demo looks up. */
      readonly examples: Record<string, Record<string, unknown>>;
    };

interface OnlinePlan {
  readonly loads: { view: string; bucket: string; key: string }[];
  readonly commits: { view: string; version: string; sequence: number }[];
}

/**
 * `drivetrain features materialize` on this machine: the same Spark job Glue runs, on local
 * Spark over the ETL pillar's warehouse, then its online deltas loaded in bounded batches
 * through the online write path and the watermarks advanced, as the workflow does on AWS.
 */
export async function materializeLocally(options: {
  readonly paths: LocalSparkPaths;
  readonly catalog: FeatureCatalog;
  readonly writer: OnlineWriter;
  readonly watermarks: WatermarkStore;
  readonly batchRows: number;
  readonly onProgress: (progress: MaterializeProgress) => void;
}): Promise<void> {
  const runId = `local-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const outcomes: ViewOutcome[] = [];
  await runSpark(
    [
      '-m',
      'drivetrain_spark.features.materialize',
      '--registry',
      join(ROOT, REGISTRY_PATH),
      '--run-id',
      runId,
      '--warehouse',
      options.paths.warehouse,
      '--output',
      options.paths.output,
    ],
    (line) => {
      const outcome = JSON.parse(line) as ViewOutcome;
      outcomes.push(outcome);
      options.onProgress({ type: 'view', outcome });
    },
  );
  const plan = JSON.parse(
    await readFile(join(options.paths.output, 'runs', runId, 'online-plan.json'), 'utf8'),
  ) as OnlinePlan;
  const loaded: Record<string, LoadReport> = {};
  const examples: Record<string, Record<string, unknown>> = {};
  for (const load of plan.loads) {
    const view = options.catalog.views.get(load.view);
    if (!view) continue;
    const rows = async function* () {
      for await (const row of jsonLines(createReadStream(join(options.paths.output, load.key)))) {
        examples[load.view] ??= Object.fromEntries(view.entity.joinKeys.map((k) => [k.name, row[k.name]]));
        yield row;
      }
    };
    const report = await loadDelta(view, rows(), options.writer, options.batchRows, (r) =>
      options.onProgress({ type: 'online', view: load.view, report: r }),
    );
    const total = loaded[load.view];
    loaded[load.view] = total
      ? {
          rows: total.rows + report.rows,
          written: total.written + report.written,
          stale: total.stale + report.stale,
          batches: total.batches + report.batches,
        }
      : report;
  }
  for (const commit of plan.commits) {
    await options.watermarks.advance(commit.view, {
      version: commit.version,
      sequence: commit.sequence,
      loadedAtMs: Date.now(),
    });
  }
  options.onProgress({
    type: 'done',
    runId,
    skipped: outcomes.filter((o) => o.action === 'skipped').map((o) => o.view),
    loaded,
    examples,
  });
}

/** `drivetrain features training-set`: the PIT join on local Spark; resolves to its manifest. */
export async function trainingSetLocally(options: {
  readonly paths: LocalSparkPaths;
  readonly entities: string;
  readonly out: string;
  readonly service?: string;
  readonly features?: readonly string[];
  readonly pins?: string;
}): Promise<Record<string, unknown>> {
  const args = ['-m', 'drivetrain_spark.features.training_set', '--registry', join(ROOT, REGISTRY_PATH)];
  args.push('--entities', options.entities, '--out', options.out, '--warehouse', options.paths.warehouse);
  if (options.service) args.push('--service', options.service);
  if (options.features?.length) args.push('--features', options.features.join(','));
  if (options.pins) args.push('--pins', options.pins);
  let manifest: Record<string, unknown> = {};
  await runSpark(args, (line) => {
    manifest = JSON.parse(line) as Record<string, unknown>;
  });
  return manifest;
}

/** Runs a Spark job of the drivetrain_spark package; every stdout line that is JSON goes to `onLine`. */
function runSpark(args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8_000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) onLine(line);
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`Spark job ${args[1]} exited ${code}:\n${stderr.split('\n').slice(-15).join('\n')}`),
          ),
    );
  });
}
