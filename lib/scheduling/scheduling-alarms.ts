import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { AlarmSet } from '../alarm-set';

export interface SchedulingAlarmsProps {
  readonly env: string;
  readonly dispatcher: lambda.IFunction;
  readonly api: lambda.IFunction;
  readonly restApi: apigateway.RestApi;
  /** Dead-letter queues: any message in one is a lost wake-up or a failed round. */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  /** Encrypts the alarm topic. */
  readonly key: kms.IKey;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Alarms of the scheduling pillar, all to one KMS-encrypted topic operators subscribe to.
 * The dispatcher heals transient failures on its next round, so its alarms fire on
 * failures that persist, not on a single one.
 */
export class SchedulingAlarms extends AlarmSet {
  constructor(scope: Construct, id: string, props: SchedulingAlarmsProps) {
    super(scope, id, {
      alarmNamePrefix: `drivetrain-${props.env}`,
      topic: {
        topicName: `drivetrain-${props.env}-scheduling-alarms`,
        displayName: `Drivetrain ${props.env} scheduling alarms`,
        key: props.key,
      },
    });

    this.alarm('DispatcherErrors', 'Dispatcher rounds fail in two of three five-minute periods', {
      metric: props.dispatcher.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });
    // With reserved concurrency 1 an event that arrives during a round is throttled and
    // retried by Lambda: a few throttles are normal, a sustained stream means a backlog.
    this.alarm(
      'DispatcherThrottles',
      'Dispatcher invocations keep being throttled: rounds fall behind events',
      {
        metric: props.dispatcher.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 30,
        evaluationPeriods: 3,
      },
    );
    this.alarm(
      'DispatcherStopped',
      'No dispatcher round ran for ten minutes despite the one-minute schedule',
      {
        metric: props.dispatcher.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }),
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        threshold: 1,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(
        `${name}DeadLetters`,
        `Messages in the ${name} dead-letter queue: undelivered events or failed rounds`,
        {
          metric: queue.metricApproximateNumberOfMessagesVisible({
            period: FIVE_MINUTES,
            statistic: 'Maximum',
          }),
          threshold: 1,
          evaluationPeriods: 1,
        },
      );
    }
    this.alarm('Api5xx', 'The job API answers with server errors', {
      metric: props.restApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 5,
      evaluationPeriods: 1,
    });
    this.alarm('ApiErrors', 'The job API Lambda fails (crashes or timeouts, not 4xx answers)', {
      metric: props.api.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
    });
  }
}
