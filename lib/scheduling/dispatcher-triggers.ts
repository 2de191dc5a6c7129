import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** What lambdas/api/handler.ts puts on the bus after each submission. */
export const JOB_SUBMITTED = { source: 'drivetrain.jobs', detailType: 'Drivetrain Job Submitted' } as const;

/** Attempt names are `dt-<job id>-<attempt>` (jobs/ids.ts); SageMaker training jobs carry them. */
export const ATTEMPT_NAME_PREFIX = 'dt-';

export interface DispatcherTriggersProps {
  readonly env: string;
  readonly dispatcher: lambda.IFunction;
  /**
   * The start of every Drivetrain job queue ARN of this environment,
   * e.g. `arn:aws:batch:us-east-1:111111111111:job-queue/drivetrain-dev-`.
   */
  readonly jobQueueArnPrefix: string;
  /** Where events go that EventBridge could not deliver to the dispatcher. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default 1 minute */
  readonly scheduleInterval?: Duration;
}

/**
 * What wakes the dispatcher: a schedule (the backstop that heals any lost event), a job
 * submission, and the state changes of Drivetrain's own Batch jobs and SageMaker training
 * jobs on the default bus. Undeliverable events are retried, then dead-lettered.
 */
export class DispatcherTriggers extends Construct {
  public readonly schedule: events.Rule;
  public readonly jobSubmitted: events.Rule;
  public readonly batchStateChange: events.Rule;
  public readonly sageMakerStateChange: events.Rule;

  constructor(scope: Construct, id: string, props: DispatcherTriggersProps) {
    super(scope, id);
    const target = new targets.LambdaFunction(props.dispatcher, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 4,
      // An event older than this is stale: the schedule has run several rounds since.
      maxEventAge: Duration.hours(1),
    });
    const rule = (ruleId: string, description: string, options: events.RuleProps) =>
      new events.Rule(this, ruleId, {
        ruleName: `drivetrain-${props.env}-dispatcher-${ruleId.toLowerCase()}`,
        description,
        targets: [target],
        ...options,
      });

    this.schedule = rule('Schedule', 'Runs a dispatcher round even when no event arrives', {
      schedule: events.Schedule.rate(props.scheduleInterval ?? Duration.minutes(1)),
    });
    this.jobSubmitted = rule('Submitted', 'Runs a round as soon as a job is submitted', {
      eventPattern: { source: [JOB_SUBMITTED.source], detailType: [JOB_SUBMITTED.detailType] },
    });
    this.batchStateChange = rule('Batch', "State changes of jobs in this environment's Batch queues", {
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: { jobQueue: events.Match.prefix(props.jobQueueArnPrefix) },
      },
    });
    this.sageMakerStateChange = rule('SageMaker', "State changes of Drivetrain's SageMaker training jobs", {
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Training Job State Change'],
        detail: { TrainingJobName: events.Match.prefix(ATTEMPT_NAME_PREFIX) },
      },
    });
  }
}
