import './promise-polyfill';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import { type DataConfig, gibToBytes } from '../../config/data';
import { type IngestSubstitutions, renderIngestDefinition } from '../../step-functions/ingest';
import { LocalBuckets } from './local-buckets';
import { type LocalIntegration, localServices } from './local-services';
import type { LocalJobCommand } from './spark-job';

/** Where the local sensor-ETL keeps everything, and what it runs. */
export interface LocalEtlSettings {
  /** `.drivetrain/`: buckets/, warehouse/, etl/ (run table, events, notifications). */
  readonly dataDir: string;
  readonly data: DataConfig;
  readonly job: LocalJobCommand;
  /** The ingest job's `--config`: the environment's, plus local additions such as a DBC file. */
  readonly jobConfig: Readonly<Record<string, unknown>>;
  /** Runs above this many accepted bytes take the EMR Serverless path. */
  readonly emrThresholdBytes: number;
  readonly tableName: string;
  /** The raw-folder watcher batches new files for this long after the last one (the pipe's window). */
  readonly eventBatchWindowMs: number;
}

export const LOCAL_NAMES = {
  raw: 'raw',
  curated: 'curated',
  quarantine: 'quarantine',
  glueJob: 'drivetrain-local-ingest',
  emrApplication: 'local-ingest',
  stateMachine: 'drivetrain-local-ingest',
  catalog: 'drivetrain',
  database: 'sensor',
} as const;

const LOCAL_ACCOUNT = '000000000000';
const STATE_MACHINE_ARN = `arn:aws:states:local:${LOCAL_ACCOUNT}:stateMachine:${LOCAL_NAMES.stateMachine}`;

export const etlPaths = (dataDir: string) => ({
  buckets: join(dataDir, 'buckets'),
  warehouse: join(dataDir, 'warehouse'),
  events: join(dataDir, 'etl', 'events.jsonl'),
  notifications: join(dataDir, 'etl', 'notifications.jsonl'),
  dynamoDb: join(dataDir, 'etl', 'dynamodb'),
});

/** The placeholders' local values: folders for buckets, dynalite's table, the local job. */
export function localSubstitutions(settings: LocalEtlSettings): IngestSubstitutions {
  const paths = etlPaths(settings.dataDir);
  const buckets = new LocalBuckets(paths.buckets);
  return {
    RawBucket: LOCAL_NAMES.raw,
    CuratedBucket: LOCAL_NAMES.curated,
    QuarantineBucket: LOCAL_NAMES.quarantine,
    RawBucketUri: buckets.uri(LOCAL_NAMES.raw),
    CuratedBucketUri: buckets.uri(LOCAL_NAMES.curated),
    QuarantineBucketUri: buckets.uri(LOCAL_NAMES.quarantine),
    RunTable: settings.tableName,
    EventBusName: 'default',
    FailureTopicArn: `arn:aws:sns:local:${LOCAL_ACCOUNT}:drivetrain-local-etl-notifications`,
    GlueJobName: LOCAL_NAMES.glueJob,
    EmrApplicationId: LOCAL_NAMES.emrApplication,
    EmrJobRoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/drivetrain-local-ingest-emr`,
    EmrEntryPoint: `${pathToFileURL(join(settings.job.cwd, 'spark', ...settings.job.module.split('.'))).href}.py`,
    EmrSparkSubmitParameters: `--master ${settings.job.master}`,
    EmrLogGroup: '/drivetrain/local/emr-serverless',
    WarehouseUri: pathToFileURL(paths.warehouse).href,
    CatalogType: 'hadoop',
    CatalogName: LOCAL_NAMES.catalog,
    GlueDatabase: LOCAL_NAMES.database,
    JobConfig: settings.jobConfig,
    MaxObjectBytes: gibToBytes(settings.data.maxObjectGiB),
    MaxObjectsPerRun: settings.data.maxObjectsPerRun,
    EmrThresholdBytes: settings.emrThresholdBytes,
    EmrTimeoutMinutes: settings.data.emr.jobTimeoutMinutes,
  };
}

export interface ExecutionOutcome {
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface Execution {
  readonly name: string;
  readonly arn: string;
  readonly done: Promise<ExecutionOutcome>;
}

export interface LocalIngestWorkflowOptions {
  readonly settings: LocalEtlSettings;
  readonly dynamoDb: DynamoDBClient;
  /** One line of progress of an execution: the state it entered, or a line from its job. */
  readonly onProgress?: (execution: string, line: string) => void;
  /** Wait this long before every retry instead of the ASL's backoff (tests). */
  readonly retryIntervalMs?: number;
  /** Sees every Task's request (its resource and evaluated Parameters) before the stand-in serves it. */
  readonly onTaskRequest?: (resource: string, parameters: unknown) => void;
}

/**
 * The ingest workflow on this machine: the same ASL under aws-local-stepfunctions, every
 * Task served by a local stand-in. Executions run one at a time, in the order started (the
 * machine has two cores; Spark takes both).
 */
export class LocalIngestWorkflow {
  private readonly machine: StateMachine;
  private readonly handlers: Record<string, (input: unknown) => Promise<never>>;
  private readonly retryIntervals: Record<string, number>;
  private readonly abort = new AbortController();
  private tail: Promise<unknown> = Promise.resolve();
  private readonly lastProgressWrite = new Map<string, number>();

  constructor(private readonly options: LocalIngestWorkflowOptions) {
    const { settings, dynamoDb } = options;
    const paths = etlPaths(settings.dataDir);
    const substitutions = localSubstitutions(settings);
    const definition = JSON.parse(renderIngestDefinition(substitutions));
    this.machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
    const services = localServices({
      buckets: new LocalBuckets(paths.buckets),
      dynamoDb,
      eventsFile: paths.events,
      notificationsFile: paths.notifications,
      glueJob: {
        name: LOCAL_NAMES.glueJob,
        defaultArguments: {
          '--warehouse': substitutions.WarehouseUri,
          '--catalog_type': substitutions.CatalogType,
          '--catalog_name': substitutions.CatalogName,
          '--database': substitutions.GlueDatabase,
          '--config': JSON.stringify(settings.jobConfig),
        },
        timeoutMinutes: settings.data.glue.timeoutMinutes,
      },
      emrApplication: { id: LOCAL_NAMES.emrApplication, entryPoint: substitutions.EmrEntryPoint },
      job: settings.job,
      startExecution: (input) => ({ executionArn: this.start(input).arn }),
      // The job reports its stages as `[ingest <elapsed>] ...`; Spark's own log lines are noise here.
      onJobLine: (runId, line) => {
        if (line.startsWith('[ingest')) this.progress(runId, line, true);
      },
    });
    this.handlers = taskHandlers(definition, services, this.abort.signal, options.onTaskRequest);
    const { retryIntervalMs } = options;
    this.retryIntervals =
      retryIntervalMs === undefined
        ? {}
        : Object.fromEntries(Object.keys(this.handlers).map((name) => [name, retryIntervalMs]));
  }

  /** Resolves once no execution is running or queued (chained ones included). */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.tail;
      await seen;
    } while (seen !== this.tail);
  }

  /** Starts an execution (queued behind any running one); `name` defaults to a sortable run id. */
  start(input: unknown, name = newRunId()): Execution {
    const arn = `arn:aws:states:local:${LOCAL_ACCOUNT}:execution:${LOCAL_NAMES.stateMachine}:${name}`;
    const done = this.tail.then(() => this.execute(name, arn, input));
    this.tail = done.catch(() => undefined);
    return { name, arn, done };
  }

  /** Stops the running job, if any, and waits for the queue to drain. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.tail;
  }

  private async execute(name: string, arn: string, input: unknown): Promise<ExecutionOutcome> {
    if (this.abort.signal.aborted)
      return { name, status: 'FAILED', error: 'States.Aborted', cause: 'stopped' };
    const context = {
      Execution: { Id: arn, Name: name, StartTime: new Date().toISOString(), Input: input as never },
      StateMachine: { Id: STATE_MACHINE_ARN, Name: LOCAL_NAMES.stateMachine },
    };
    const execution = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: this.handlers, retryIntervalOverrides: this.retryIntervals },
      context,
    });
    void this.follow(name, execution.eventLogs);
    try {
      const output = await execution.result;
      return { name, status: 'SUCCEEDED', output };
    } catch (error) {
      const failure = error as {
        name?: string;
        message?: string;
        cause?: { name?: string; message?: string };
      };
      return {
        name,
        status: 'FAILED',
        error: failure.cause?.name ?? failure.name,
        cause: failure.cause?.message ?? failure.message,
      };
    }
  }

  private async follow(
    name: string,
    events: AsyncGenerator<{ type: string; state?: { name: string }; index?: number }>,
  ) {
    for await (const event of events) {
      if (event.type === 'StateEntered' && event.index === undefined && event.state) {
        this.progress(name, `→ ${event.state.name}`, false);
      }
    }
  }

  /** Progress goes to the listener; job lines also to the run's record (at most once a second). */
  private progress(runId: string, line: string, fromJob: boolean): void {
    this.options.onProgress?.(runId, line);
    if (!fromJob || runId === '') return;
    const now = Date.now();
    if (now - (this.lastProgressWrite.get(runId) ?? 0) < 1000) return;
    this.lastProgressWrite.set(runId, now);
    void this.options.dynamoDb
      .send(
        new UpdateItemCommand({
          TableName: this.options.settings.tableName,
          Key: { pk: { S: `RUN#${runId}` } },
          UpdateExpression: 'SET progress = :line',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':line': { S: line.slice(0, 500) } },
        }),
      )
      .catch(() => undefined);
  }
}

/** One local handler per Task state, chosen by the state's Resource, for every Task in the ASL. */
function taskHandlers(
  definition: { States: Record<string, Json> },
  services: Record<string, LocalIntegration>,
  signal: AbortSignal,
  observe?: (resource: string, parameters: unknown) => void,
): Record<string, (input: unknown) => Promise<never>> {
  const handlers: Record<string, (input: unknown) => Promise<never>> = {};
  const visit = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') {
        const service = services[state.Resource as string];
        if (!service) throw new Error(`no local stand-in for ${state.Resource} (state ${name})`);
        handlers[name] = (input) => {
          observe?.(state.Resource as string, input);
          const answer = service(input as Json, signal) as Promise<never>;
          // The interpreter stops awaiting a Task whose execution failed elsewhere (a timeout):
          // its late failure must not become an unhandled rejection.
          answer.catch(() => undefined);
          return answer;
        };
      }
      const nested = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Json> } | undefined;
      if (nested) visit(nested.States);
    }
  };
  visit(definition.States);
  return handlers;
}

type Json = Record<string, unknown>;

/** `run-20261201T091500123Z-1a2b3c`: sortable by start, unique, a valid execution name and S3 key part. */
export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}
