import { copyFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { type Execution, type ExecutionOutcome, etlPaths, LOCAL_NAMES } from '../../local/etl/ingest-runner';
import { objectCreated } from '../../local/etl/raw-watcher';
import type { RunRecord } from '../../local/etl/run-table';
import { type LocalEtl, openLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { RAW_PREFIX } from '../../step-functions/ingest';
import { parseCommandArgs } from '../args';
import { printJson } from '../command';
import { EXIT, UsageError } from '../errors';
import type { CliIo } from '../io';
import { rejectedReasons, renderRun } from './data-runs';

const OPTIONS = {
  vehicle: { type: 'string' },
  drive: { type: 'string' },
  force: { type: 'boolean', default: false },
  'no-wait': { type: 'boolean', default: false },
} as const;

/** Vehicle and drive ids become key segments and table partitions. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** How long to wait for a running watcher to pick the upload up before saying so. */
const PICKUP_TIMEOUT_MS = 120_000;

export async function dataIngest(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('data', argv, OPTIONS);
  if (positionals.length === 0) throw new UsageError('usage: drivetrain data ingest <file>... (see --help)');
  const uploads = positionals.flatMap((file) => planUpload(file, values.vehicle, values.drive));
  const settings = localEtlSettings(io.env);
  if (uploads.length > settings.data.maxObjectsPerRun) {
    throw new UsageError(`${uploads.length} files: at most ${settings.data.maxObjectsPerRun} per run`);
  }
  const etl = await openLocalEtl(settings);
  try {
    if (values.force && etl.watching) {
      throw new UsageError('--force: a running platform watches the raw folder; stop it, or drop --force');
    }
    const rawDir = join(etlPaths(settings.dataDir).buckets, LOCAL_NAMES.raw);
    const started = new Date().toISOString();
    for (const upload of uploads) copyInto(rawDir, upload);
    const keys = uploads.filter((u) => !u.companion).map((u) => u.key);
    if (!values.json)
      io.stdout(`uploaded ${keys.length} object(s) to raw/${uploads[0]!.vehicle}/${uploads[0]!.drive}/`);
    const execution = etl.workflow ? startRun(etl, rawDir, keys, values.force) : undefined;
    const runId = execution?.name ?? (await pickedUp(etl, keys, started, io));
    if (values['no-wait']) {
      if (values.json) printJson(io, { runId, keys });
      else io.stdout(`run ${runId} started; follow it with: drivetrain data runs`);
      return EXIT.ok;
    }
    const run = await follow(etl, runId, io, !values.json, execution?.done);
    if (values.json) printJson(io, run);
    else
      for (const line of [...renderRun(run), ...(await rejectedReasons(settings.dataDir, run))])
        io.stdout(line);
    return run.state === 'SUCCEEDED' ? EXIT.ok : EXIT.jobDidNotSucceed;
  } finally {
    await etl.close();
  }
}

interface Upload {
  readonly source: string;
  readonly key: string;
  readonly vehicle: string;
  readonly drive: string;
  /** A .db3's metadata.yaml: uploaded beside it, not an input of its own. */
  readonly companion: boolean;
}

function planUpload(file: string, vehicle?: string, drive?: string): Upload[] {
  const source = resolve(file);
  if (!existsSync(source)) throw new UsageError(`${file}: no such file`);
  if (!statSync(source).isFile()) throw new UsageError(`${file}: not a file (give the log files themselves)`);
  const parts = source.split(sep);
  const at = parts.lastIndexOf('raw');
  const laidOut = at >= 0 && at === parts.length - 4;
  const ids = {
    vehicle: vehicle ?? (laidOut ? parts[at + 1] : undefined),
    drive: drive ?? (laidOut ? parts[at + 2] : undefined),
  };
  for (const [field, id] of Object.entries(ids)) {
    if (id === undefined)
      throw new UsageError(`--${field}: required for ${file} (it is not under raw/<vehicle>/<drive>/)`);
    if (!ID.test(id)) throw new UsageError(`--${field}: '${id}' must be letters, digits, '.', '_' or '-'`);
  }
  const prefix = `${RAW_PREFIX}${ids.vehicle}/${ids.drive}/`;
  const upload = {
    source,
    key: `${prefix}${basename(source)}`,
    vehicle: ids.vehicle!,
    drive: ids.drive!,
    companion: false,
  };
  const metadata = join(dirname(source), 'metadata.yaml');
  return source.endsWith('.db3') && existsSync(metadata)
    ? [{ ...upload, source: metadata, key: `${prefix}metadata.yaml`, companion: true }, upload]
    : [upload];
}

/** Like an upload to S3: the object appears whole, under its final key, or not at all. */
function copyInto(rawDir: string, upload: Upload): void {
  const target = join(rawDir, ...upload.key.split('/'));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(upload.source, `${target}.partial`);
  renameSync(`${target}.partial`, target);
}

/** No watcher runs: start the run here, with the events the upload would have sent. */
function startRun(etl: LocalEtl, rawDir: string, keys: string[], force: boolean): Execution {
  const input = force
    ? { keys, force: true }
    : keys.map((key, i) => ({
        messageId: `upload-${i}`,
        body: JSON.stringify(
          objectCreated(LOCAL_NAMES.raw, key, statSync(join(rawDir, ...key.split('/'))).size),
        ),
      }));
  return etl.workflow!.start(input);
}

/** A watcher runs elsewhere: wait for the run it starts for these keys. */
async function pickedUp(etl: LocalEtl, keys: string[], since: string, io: CliIo): Promise<string> {
  const deadline = Date.now() + PICKUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const runs = await etl.runs.runs(50);
    const run = runs.find((r) => (r.startedAt ?? '') >= since && keys.every((key) => r.keys.includes(key)));
    if (run) return run.runId;
    await io.sleep(500);
  }
  throw new UsageError('the running platform did not start a run for the upload within 2 minutes');
}

/**
 * Polls the run's record, printing each new phase and progress line, until it ends. An
 * execution that ends without a terminal record (it failed before writing one) ends it too.
 */
async function follow(
  etl: LocalEtl,
  runId: string,
  io: CliIo,
  show: boolean,
  done?: Promise<ExecutionOutcome>,
): Promise<RunRecord> {
  let shown = '';
  let outcome: ExecutionOutcome | undefined;
  void done?.then((ended) => {
    outcome = ended;
  });
  for (;;) {
    const ended = outcome;
    const run = await etl.runs.run(runId);
    if ((ended && run?.state === 'RUNNING') || (ended && !run)) {
      return {
        ...(run ?? emptyRun(runId)),
        state: ended.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
        error: ended.error,
        errorCause: ended.cause,
      };
    }
    if (run) {
      const line = `${run.state.padEnd(9)} ${run.phase ?? ''}${run.progress ? `  ${run.progress}` : ''}`;
      if (show && line !== shown) io.stdout(`${io.now().toISOString().slice(11, 19)}Z  ${line}`);
      shown = line;
      if (run.state !== 'RUNNING') return run;
    }
    await io.sleep(1000);
  }
}

function emptyRun(runId: string): RunRecord {
  return {
    runId,
    state: 'FAILED',
    keys: [],
    requestedObjects: 0,
    acceptedObjects: 0,
    acceptedBytes: 0,
    rejectedObjects: 0,
    skippedObjects: 0,
  };
}
