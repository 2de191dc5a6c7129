import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { LocalBuckets } from './local-buckets';
import { glueArgumentsToArgv, type LocalJobCommand, runIngestJob } from './spark-job';

type Json = Record<string, unknown>;
/** A Task's resource, run here: it receives the Task's Parameters and returns the service's answer. */
export type LocalIntegration = (input: Json, signal: AbortSignal) => Promise<unknown>;

export interface LocalServicesOptions {
  readonly buckets: LocalBuckets;
  readonly dynamoDb: DynamoDBClient;
  /** EventBridge stand-in: events put on the bus are appended here, one JSON event a line. */
  readonly eventsFile: string;
  /** SNS stand-in: published messages are appended here, one JSON message a line. */
  readonly notificationsFile: string;
  /** The Glue job as deployed: its name and default arguments. */
  readonly glueJob: {
    readonly name: string;
    readonly defaultArguments: Record<string, string>;
    /** Glue stops a run after this long (the job's Timeout). */
    readonly timeoutMinutes: number;
  };
  /** The EMR Serverless application: its id and the entry point file it accepts. */
  readonly emrApplication: { readonly id: string; readonly entryPoint: string };
  readonly job: LocalJobCommand;
  /** Starts another execution of the workflow (the sweep's next page). */
  readonly startExecution: (input: unknown) => { executionArn: string };
  /** Each line the job reports, with the run id it was started for. */
  readonly onJobLine: (runId: string, line: string) => void;
}

/** Step Functions' limit on a PutEvents entry and on an SNS message. */
const EVENT_ENTRY_LIMIT = 256 * 1024;
const SNS_MESSAGE_LIMIT = 256 * 1024;

/**
 * Every Task resource of the ingest workflow, served by a local stand-in: the raw, curated
 * and quarantine folders for S3, dynalite for DynamoDB, the ingest job as a local Spark
 * process for Glue and EMR Serverless, and append-only files for EventBridge and SNS.
 * Errors carry the names Step Functions gives the real services' errors, so Retry and
 * Catch behave as on AWS.
 */
export function localServices(options: LocalServicesOptions): Record<string, LocalIntegration> {
  const { buckets, dynamoDb } = options;
  const s3 = (call: (input: never) => Promise<unknown>) => (input: Json) => call(input as never);
  const dynamo = (send: (input: never) => Promise<object>) => async (input: Json) => {
    try {
      const { $metadata: _, ...output } = (await send(input as never)) as Json;
      return output;
    } catch (error) {
      throw renamed(error, 'DynamoDB');
    }
  };
  return {
    'arn:aws:states:::aws-sdk:s3:headObject': s3(buckets.headObject.bind(buckets)),
    'arn:aws:states:::aws-sdk:s3:listObjectsV2': s3(buckets.listObjectsV2.bind(buckets)),
    'arn:aws:states:::aws-sdk:s3:copyObject': s3(buckets.copyObject.bind(buckets)),
    'arn:aws:states:::aws-sdk:s3:putObject': s3(buckets.putObject.bind(buckets)),
    'arn:aws:states:::aws-sdk:s3:getObject': s3(buckets.getObject.bind(buckets)),
    'arn:aws:states:::dynamodb:putItem': dynamo((input: PutItemCommandInput) =>
      dynamoDb.send(new PutItemCommand(input)),
    ),
    'arn:aws:states:::dynamodb:getItem': dynamo((input: GetItemCommandInput) =>
      dynamoDb.send(new GetItemCommand(input)),
    ),
    'arn:aws:states:::dynamodb:updateItem': dynamo((input: UpdateItemCommandInput) =>
      dynamoDb.send(new UpdateItemCommand(input)),
    ),
    'arn:aws:states:::events:putEvents': (input) => putEvents(options.eventsFile, input),
    'arn:aws:states:::sns:publish': (input) => publish(options.notificationsFile, input),
    'arn:aws:states:::states:startExecution': async (input) => {
      const { executionArn } = options.startExecution(input.Input);
      return { ExecutionArn: executionArn, StartDate: new Date().toISOString() };
    },
    'arn:aws:states:::glue:startJobRun.sync': (input, signal) => startGlueJobRun(options, input, signal),
    'arn:aws:states:::emr-serverless:startJobRun.sync': (input, signal) =>
      startEmrJobRun(options, input, signal),
  };
}

async function startGlueJobRun(options: LocalServicesOptions, input: Json, signal: AbortSignal) {
  const { glueJob } = options;
  if (input.JobName !== glueJob.name)
    throw serviceError('Glue.EntityNotFoundException', `no job ${input.JobName}`);
  const runArguments = (input.Arguments ?? {}) as Record<string, string>;
  const argv = glueArgumentsToArgv(glueJob.defaultArguments, runArguments);
  const runId = runArguments['--run_id'] ?? '';
  const startedOn = new Date();
  const run = await runWithin(options, argv, runId, glueJob.timeoutMinutes, signal);
  const jobRun = {
    Id: run.id,
    JobName: glueJob.name,
    StartedOn: startedOn.toISOString(),
    CompletedOn: new Date().toISOString(),
    ExecutionTime: Math.round(run.durationMs / 1000),
    Arguments: runArguments,
    JobRunState: run.exitCode === 0 ? 'SUCCEEDED' : run.signal ? 'STOPPED' : 'FAILED',
  };
  // A .sync run that does not succeed fails the Task with the job run as its cause.
  if (run.exitCode !== 0)
    throw serviceError('States.TaskFailed', JSON.stringify({ ...jobRun, ErrorMessage: run.errorTail }));
  return jobRun;
}

async function startEmrJobRun(options: LocalServicesOptions, input: Json, signal: AbortSignal) {
  // Required by EMR Serverless StartJobRun (botocore emr-serverless service-2.json).
  for (const field of ['ApplicationId', 'ExecutionRoleArn', 'ClientToken']) {
    if (typeof input[field] !== 'string' || input[field] === '') {
      throw serviceError('EMRServerless.ValidationException', `${field} is required`);
    }
  }
  if (input.ApplicationId !== options.emrApplication.id) {
    throw serviceError('EMRServerless.ResourceNotFoundException', `no application ${input.ApplicationId}`);
  }
  const submit = (input.JobDriver as { SparkSubmit?: Json } | undefined)?.SparkSubmit;
  if (!submit || submit.EntryPoint !== options.emrApplication.entryPoint) {
    throw serviceError(
      'EMRServerless.ValidationException',
      'JobDriver.SparkSubmit.EntryPoint is not the ingest job',
    );
  }
  const argv = (submit.EntryPointArguments ?? []) as string[];
  const runId = argv[argv.indexOf('--run-id') + 1] ?? '';
  const run = await runWithin(options, argv, runId, Number(input.ExecutionTimeoutMinutes ?? 720), signal);
  const jobRun = {
    ApplicationId: input.ApplicationId,
    JobRunId: run.id,
    Name: input.Name,
    State: run.exitCode === 0 ? 'SUCCESS' : run.signal ? 'CANCELLED' : 'FAILED',
    TotalExecutionDurationSeconds: Math.round(run.durationMs / 1000),
  };
  if (run.exitCode !== 0)
    throw serviceError('States.TaskFailed', JSON.stringify({ ...jobRun, StateDetails: run.errorTail }));
  return jobRun;
}

/** The job run, stopped when the service's timeout passes or the runtime stops. */
function runWithin(
  options: LocalServicesOptions,
  argv: string[],
  runId: string,
  minutes: number,
  signal: AbortSignal,
) {
  const timeout = AbortSignal.timeout(minutes * 60_000);
  return runIngestJob(
    options.job,
    argv,
    (line) => options.onJobLine(runId, line),
    AbortSignal.any([signal, timeout]),
  );
}

async function putEvents(file: string, input: Json) {
  const entries = (input.Entries ?? []) as Json[];
  const results: Json[] = [];
  const accepted: string[] = [];
  for (const entry of entries) {
    const detail = typeof entry.Detail === 'string' ? entry.Detail : JSON.stringify(entry.Detail ?? {});
    const size = Buffer.byteLength(`${entry.Source}${entry.DetailType}${detail}`);
    if (!entry.Source || !entry.DetailType) {
      results.push({ ErrorCode: 'InvalidArgument', ErrorMessage: 'Source and DetailType are required' });
    } else if (size > EVENT_ENTRY_LIMIT) {
      results.push({ ErrorCode: 'InvalidArgument', ErrorMessage: `entry of ${size} bytes exceeds 256 KB` });
    } else {
      const id = randomUUID();
      accepted.push(
        JSON.stringify({
          version: '0',
          id,
          'detail-type': entry.DetailType,
          source: entry.Source,
          'event-bus': entry.EventBusName ?? 'default',
          time: new Date().toISOString(),
          detail: JSON.parse(detail),
        }),
      );
      results.push({ EventId: id });
    }
  }
  await append(file, accepted);
  return { Entries: results, FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length };
}

async function publish(file: string, input: Json) {
  const { TopicArn, Subject } = input as { TopicArn?: string; Subject?: string };
  // Step Functions sends a JSON Message as its text.
  const Message = typeof input.Message === 'string' ? input.Message : JSON.stringify(input.Message);
  if (!TopicArn || typeof Message !== 'string')
    throw serviceError('SNS.InvalidParameterException', 'TopicArn and Message are required');
  // SNS: subjects are ASCII, no line breaks, at most 100 characters; messages at most 256 KB.
  if (Subject !== undefined && (Subject.length > 100 || !/^[\x20-\x7e]*$/.test(Subject))) {
    throw serviceError(
      'SNS.InvalidParameterException',
      'Subject must be printable ASCII of at most 100 characters',
    );
  }
  if (Buffer.byteLength(Message) > SNS_MESSAGE_LIMIT)
    throw serviceError('SNS.InvalidParameterException', 'Message too long');
  const messageId = randomUUID();
  await append(file, [
    JSON.stringify({
      MessageId: messageId,
      TopicArn,
      Subject,
      Message,
      MessageAttributes: input.MessageAttributes,
      Timestamp: new Date().toISOString(),
    }),
  ]);
  return { MessageId: messageId };
}

async function append(file: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${lines.join('\n')}\n`);
}

function serviceError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** `ConditionalCheckFailedException` from the SDK is `DynamoDB.ConditionalCheckFailedException` in Step Functions. */
function renamed(error: unknown, service: string): Error {
  const failure = error instanceof Error ? error : new Error(String(error));
  return serviceError(`${service}.${failure.name}`, failure.message);
}
