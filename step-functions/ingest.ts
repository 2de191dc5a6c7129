import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The ingest workflow's contract: the ASL file CDK deploys and the local runner executes,
 * the placeholders both fill, what it accepts as input and what it writes. Everything that
 * names a bucket prefix, a suffix or a run-table attribute on both sides reads it here.
 */

export const INGEST_DEFINITION_FILE = join(import.meta.dirname, 'ingest.asl.json');

/** Raw objects live at `raw/<vehicle_id>/<drive_id>/<name>.<suffix>` in the raw bucket. */
export const RAW_PREFIX = 'raw/';

/** What the ingest job decodes; anything else under the raw prefix is rejected. */
export const RAW_SUFFIXES = ['.mcap', '.bag', '.db3', '.can.parquet'] as const;

/** The completion event the workflow puts on EventBridge; its detail carries the run manifest. */
export const INGEST_SUCCEEDED_EVENT = {
  source: 'drivetrain.etl',
  detailType: 'Ingest Run Succeeded',
} as const;

/**
 * The run table: one item per run (`RUN#<execution name>`) and one per raw object version
 * seen (`OBJECT#<key>`, the ledger that makes duplicate events and sweeps no-ops).
 */
export const RUN_TABLE = {
  partitionKey: 'pk',
  indexes: {
    /** Sparse: only runs carry `startedAt`, so this lists runs newest first. */
    byKind: { name: 'byKind', partitionKey: 'kind', sortKey: 'startedAt' },
  },
} as const;

/** Prefixes the workflow and the job write under: curated `_runs/`, quarantine `runs/` and `rejected/`. */
export const RUN_PREFIXES = { runs: '_runs/', quarantined: 'runs/', rejected: 'rejected/' } as const;

/** Where a run's files go, relative to the curated and quarantine buckets. */
export const runObjects = (runId: string) => ({
  inputsKey: `${RUN_PREFIXES.runs}${runId}/inputs.json`,
  manifestKey: `${RUN_PREFIXES.runs}${runId}/manifest.json`,
  quarantinePrefix: `${RUN_PREFIXES.quarantined}${runId}/`,
  rejectedPrefix: `${RUN_PREFIXES.rejected}${runId}/`,
});

/** Values for every `${...}` placeholder of the ASL file. */
export interface IngestSubstitutions {
  readonly RawBucket: string;
  readonly CuratedBucket: string;
  readonly QuarantineBucket: string;
  readonly RunTable: string;
  readonly EventBusName: string;
  readonly FailureTopicArn: string;
  readonly GlueJobName: string;
  readonly EmrApplicationId: string;
  readonly EmrJobRoleArn: string;
  /** URI of the ingest script EMR Serverless runs (the same file as the Glue script). */
  readonly EmrEntryPoint: string;
  readonly EmrSparkSubmitParameters: string;
  readonly EmrLogGroup: string;
  /** Where the Iceberg tables live and the catalog that names them (as the Glue job's defaults). */
  readonly WarehouseUri: string;
  readonly CatalogName: string;
  readonly GlueDatabase: string;
  /** The job's `--config` JSON. */
  readonly JobConfig: Readonly<Record<string, unknown>>;
  readonly MaxObjectBytes: number;
  readonly MaxObjectsPerRun: number;
  readonly EmrThresholdBytes: number;
  readonly EmrTimeoutMinutes: number;
}

export type IngestPlaceholder = keyof IngestSubstitutions;

/**
 * The substitutions as text, ready for `definitionSubstitutions` or local rendering. Every
 * placeholder sits inside a JSON string (none inside an intrinsic's literal), so JSON string
 * escaping is all they need.
 */
export function substitutionText(values: IngestSubstitutions): Record<IngestPlaceholder, string> {
  const entries = Object.entries(values).map(([name, value]) => {
    if (name === 'JobConfig') return [name, jsonStringContent(JSON.stringify(value))];
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number`);
      return [name, String(value)];
    }
    return [name, jsonStringContent(String(value))];
  });
  return Object.fromEntries(entries) as Record<IngestPlaceholder, string>;
}

/** The ASL with every placeholder filled, as Step Functions sees it after CloudFormation. */
export function renderIngestDefinition(values: IngestSubstitutions): string {
  const text = substitutionText(values);
  return readFileSync(INGEST_DEFINITION_FILE, 'utf8').replace(/\$\{(\w+)\}/g, (match, name: string) => {
    const value = text[name as IngestPlaceholder];
    if (value === undefined) throw new Error(`no value for ${match} in ${INGEST_DEFINITION_FILE}`);
    return value;
  });
}

/** Placeholder names the ASL file uses. */
export function ingestPlaceholders(): string[] {
  const names = readFileSync(INGEST_DEFINITION_FILE, 'utf8').matchAll(/\$\{(\w+)\}/g);
  return [...new Set([...names].map((match) => match[1]!))].sort();
}

/** Text that reads as `value` inside a JSON string. */
function jsonStringContent(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

/** One raw object as the workflow hands it to the job (`--inputs`). */
export interface JobInput {
  readonly uri: string;
  readonly bytes: number;
}

/** An S3 Object Created event as EventBridge delivers it (the fields the workflow reads). */
export interface ObjectCreatedEvent {
  readonly 'detail-type': 'Object Created';
  readonly source: 'aws.s3';
  readonly detail: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size: number; readonly etag?: string };
  };
}

/** The inputs that start a run. */
export type IngestInput =
  | ObjectCreatedEvent
  /** A batch of SQS records carrying Object Created events (EventBridge Pipes, the local watcher). */
  | readonly { readonly messageId: string; readonly body: string }[]
  /** Named raw keys; `force` ingests versions the ledger has seen. */
  | { readonly keys: readonly string[]; readonly force?: boolean }
  /** One page of the raw prefix (the schedule starts the first). */
  | { readonly sweep: { readonly continuationToken?: string } }
  | { readonly 'detail-type': 'Scheduled Event' };
