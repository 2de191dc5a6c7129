import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { AlarmSet } from '../alarm-set';

export interface DataAlarmsProps {
  readonly env: string;
  readonly stateMachine: sfn.IStateMachine;
  readonly arrivals: sqs.IQueue;
  readonly deadLetters: sqs.IQueue;
  /** Arrivals older than this mean the pipe has stopped starting runs. */
  readonly maxArrivalAge: Duration;
  readonly topic: sns.ITopic;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Alarms of the sensor-ETL pillar, to the topic that also carries run failures. A failed
 * run already notifies from the workflow; these catch what the workflow cannot report
 * itself (timeouts, aborts, throttling) and events that never became runs.
 */
export class DataAlarms extends AlarmSet {
  constructor(scope: Construct, id: string, props: DataAlarmsProps) {
    super(scope, id, { alarmNamePrefix: `drivetrain-${props.env}`, topic: props.topic });
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, threshold = 1) =>
      this.alarm(alarmId, description, { metric, threshold, evaluationPeriods: 1 });
    const sum = { period: FIVE_MINUTES, statistic: 'Sum' };
    const { stateMachine } = props;
    alarm('IngestFailed', 'Ingest executions failed', stateMachine.metricFailed(sum));
    alarm('IngestTimedOut', 'Ingest executions timed out', stateMachine.metricTimedOut(sum));
    alarm(
      'IngestAborted',
      'Ingest executions were aborted: their run records may say RUNNING',
      stateMachine.metricAborted(sum),
    );
    alarm('IngestThrottled', 'Starting ingest executions is throttled', stateMachine.metricThrottled(sum));
    alarm(
      'IngestDeadLetters',
      'Raw object events or sweeps could not start an ingest run',
      props.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
    );
    alarm(
      'IngestArrivalsStuck',
      'Raw object events wait in the arrivals queue: the pipe is not starting runs',
      props.arrivals.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      props.maxArrivalAge.toSeconds(),
    );
  }
}
