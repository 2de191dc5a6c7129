import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** What lambdas/api/handler.ts puts on the bus after each submission. */
export const JOB_SUBMITTED = { source: 'drivetrain.jobs', detailType: 'Drivetrain Job Submitted' } as const;

/** Attempt names are `dt-<job id>-<attempt>` (jobs/ids.ts); SageMaker training jobs carry them. */
export const ATTEMPT_NAME_PREFIX = 'dt-';

/**
 * The Batch statuses the dispatcher acts on (backends/batch.ts batchEventToStatus): the
 * others (SUBMITTED, PENDING, RUNNABLE, STARTING) change nothing in a job's record.
 */
export const BATCH_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED'];
/**
 * The SageMaker secondary statuses that move a job (backends/sagemaker.ts): training began,
 * or the job ended one way or another. Downloading, Uploading and the like change nothing.
 */
export const SAGEMAKER_SECONDARY_STATUSES = [
  'Training',
  'Completed',
  'Failed',
  'Stopped',
  'MaxRuntimeExceeded',
  'MaxWaitTimeExceeded',
  'Interrupted',
];

/** Status changes one dispatcher invocation takes from the queue (SQS allows up to 10,000 with a window). */
export const STATE_CHANGE_BATCH_SIZE = 1_000;

export interface DispatcherTriggersProps {
  readonly env: string;
  /** Its timeout sets the queue's visibility timeout: six of them, as AWS advises for SQS sources. */
  readonly dispatcher: lambda.Function;
  /**
   * The start of every Drivetrain job queue ARN of this environment,
   * e.g. `arn:aws:batch:us-east-1:111111111111:job-queue/drivetrain-dev-`.
   */
  readonly jobQueueArnPrefix: string;
  /**
   * Where events go that could not be delivered to the dispatcher: EventBridge's failed
   * deliveries, and state changes the dispatcher failed on five times. Encrypted with a KMS
   * key, which the state-change queue shares.
   */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default 1 minute */
  readonly scheduleInterval?: Duration;
}

/**
 * What wakes the dispatcher: a schedule (the backstop that also reconciles every live job
 * with its backend), a job submission, and the state changes of Drivetrain's own Batch jobs
 * and SageMaker training jobs. State changes go through an SQS queue, filtered to the
 * transitions that matter, and reach the dispatcher in batches: one round applies many
 * (each applied idempotently, so a redelivery or a redrive from the dead-letter queue
 * changes nothing), instead of one invocation per event competing for a concurrency of one.
 */
export class DispatcherTriggers extends Construct {
  public readonly schedule: events.Rule;
  public readonly jobSubmitted: events.Rule;
  public readonly batchStateChange: events.Rule;
  public readonly sageMakerStateChange: events.Rule;
  public readonly stateChanges: sqs.Queue;

  constructor(scope: Construct, id: string, props: DispatcherTriggersProps) {
    super(scope, id);
    const { deadLetterQueue } = props;
    const direct = new targets.LambdaFunction(props.dispatcher, {
      deadLetterQueue,
      retryAttempts: 4,
      // An event older than this is stale: the schedule has run several rounds since.
      maxEventAge: Duration.hours(1),
    });
    this.stateChanges = new sqs.Queue(this, 'StateChanges', {
      queueName: `drivetrain-${props.env}-state-changes`,
      encryption: deadLetterQueue.encryptionMasterKey
        ? sqs.QueueEncryption.KMS
        : sqs.QueueEncryption.SQS_MANAGED,
      encryptionMasterKey: deadLetterQueue.encryptionMasterKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds((props.dispatcher.timeout ?? Duration.seconds(3)).toSeconds() * 6),
      // Reserved concurrency 1 throttles some receives: five tries before a message is dead-lettered.
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
    });
    const queued = new targets.SqsQueue(this.stateChanges, { deadLetterQueue, retryAttempts: 4 });
    props.dispatcher.addEventSource(
      new SqsEventSource(this.stateChanges, {
        batchSize: STATE_CHANGE_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );
    const rule = (
      ruleId: string,
      description: string,
      target: events.IRuleTarget,
      options: events.RuleProps,
    ) =>
      new events.Rule(this, ruleId, {
        ruleName: `drivetrain-${props.env}-dispatcher-${ruleId.toLowerCase()}`,
        description,
        targets: [target],
        ...options,
      });

    this.schedule = rule('Schedule', 'Runs a dispatcher round even when no event arrives', direct, {
      schedule: events.Schedule.rate(props.scheduleInterval ?? Duration.minutes(1)),
    });
    this.jobSubmitted = rule('Submitted', 'Runs a round as soon as a job is submitted', direct, {
      eventPattern: { source: [JOB_SUBMITTED.source], detailType: [JOB_SUBMITTED.detailType] },
    });
    this.batchStateChange = rule(
      'Batch',
      "State changes of jobs in this environment's Batch queues that move a job",
      queued,
      {
        eventPattern: {
          source: ['aws.batch'],
          detailType: ['Batch Job State Change'],
          detail: { jobQueue: events.Match.prefix(props.jobQueueArnPrefix), status: BATCH_STATUSES },
        },
      },
    );
    this.sageMakerStateChange = rule(
      'SageMaker',
      "State changes of Drivetrain's SageMaker training jobs that move a job",
      queued,
      {
        eventPattern: {
          source: ['aws.sagemaker'],
          detailType: ['SageMaker Training Job State Change'],
          detail: {
            TrainingJobName: events.Match.prefix(ATTEMPT_NAME_PREFIX),
            SecondaryStatus: SAGEMAKER_SECONDARY_STATUSES,
          },
        },
      },
    );
  }
}
