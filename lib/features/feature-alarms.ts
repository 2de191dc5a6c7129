import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { FeatureStoreConfig } from '../../config/features';
import { AlarmSet } from '../alarm-set';

export interface FeatureAlarmsProps {
  readonly env: string;
  readonly api: lambda.IFunction;
  readonly restApi: apigateway.RestApi;
  readonly apiServiceName: string;
  readonly stateMachine: sfn.IStateMachine;
  readonly deadLetterQueue: sqs.IQueue;
  readonly key: kms.IKey;
  readonly thresholds: FeatureStoreConfig['alarms'];
}

const FIVE_MINUTES = Duration.minutes(5);

/** Alarms of the feature store: read latency, error rate, cache hit rate, failed materializations. */
export class FeatureAlarms extends AlarmSet {
  constructor(scope: Construct, id: string, props: FeatureAlarmsProps) {
    super(scope, id, {
      alarmNamePrefix: `drivetrain-${props.env}-features`,
      topic: {
        topicName: `drivetrain-${props.env}-feature-alarms`,
        displayName: `Drivetrain ${props.env} feature store alarms`,
        key: props.key,
      },
    });
    const { thresholds } = props;

    this.alarm(
      'LatencyP99',
      `p99 feature API latency at or above ${thresholds.latencyP99Ms} ms for 15 minutes`,
      {
        metric: props.restApi.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' }),
        threshold: thresholds.latencyP99Ms,
        evaluationPeriods: 3,
      },
    );
    this.alarm('ErrorRate', `More than ${thresholds.errorRatePercent}% of feature API invocations fail`, {
      metric: new cloudwatch.MathExpression({
        expression: '100 * errors / MAX([invocations, 1])',
        usingMetrics: {
          errors: props.api.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
          invocations: props.api.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }),
        },
        period: FIVE_MINUTES,
        label: 'error rate (%)',
      }),
      threshold: thresholds.errorRatePercent,
      evaluationPeriods: 2,
    });
    this.alarm('Api5xx', 'The feature API answers with server errors', {
      metric: props.restApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 5,
      evaluationPeriods: 1,
    });
    const cacheMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'Drivetrain',
        metricName,
        dimensionsMap: { service: props.apiServiceName },
        period: FIVE_MINUTES,
        statistic: 'Sum',
      });
    this.alarm(
      'CacheHitRate',
      `Cache hit rate below ${thresholds.cacheHitRatePercent}% for 15 minutes (reads fall through to DynamoDB)`,
      {
        metric: new cloudwatch.MathExpression({
          // No lookups in a period is no traffic, not a miss: report 100.
          expression: 'IF(lookups > 0, 100 * hits / lookups, 100)',
          usingMetrics: { hits: cacheMetric('CacheHits'), lookups: cacheMetric('CacheLookups') },
          period: FIVE_MINUTES,
          label: 'cache hit rate (%)',
        }),
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        threshold: thresholds.cacheHitRatePercent,
        evaluationPeriods: 3,
      },
    );
    this.alarm('MaterializationFailed', 'A feature materialization run failed, timed out or was aborted', {
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: props.stateMachine.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
          timedOut: props.stateMachine.metricTimedOut({ period: FIVE_MINUTES, statistic: 'Sum' }),
          aborted: props.stateMachine.metricAborted({ period: FIVE_MINUTES, statistic: 'Sum' }),
        },
        period: FIVE_MINUTES,
      }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    this.alarm('TriggerDeadLetters', 'Materialization triggers that EventBridge could not deliver', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
    });
  }
}
