import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** A topic of the alarm set's own: KMS-encrypted and TLS-only. */
export interface AlarmTopicProps {
  readonly topicName: string;
  readonly displayName: string;
  readonly key: kms.IKey;
}

export interface AlarmSetProps {
  /** Each alarm is named `<alarmNamePrefix>-<its id in kebab case>`. */
  readonly alarmNamePrefix: string;
  /** The topic every alarm notifies, or the description of one this set creates as its `Topic` child. */
  readonly topic: sns.ITopic | AlarmTopicProps;
}

/** An alarm's settings besides its name and description. */
export type AlarmOptions = Omit<cloudwatch.AlarmProps, 'alarmName' | 'alarmDescription'>;

/**
 * CloudWatch alarms that all notify one SNS topic, on alarm and on OK. Unless an alarm says
 * otherwise it fires at or above its threshold and treats missing data as not breaching.
 * Each alarm is the child named by its id.
 */
export class AlarmSet extends Construct {
  public readonly topic: sns.ITopic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly action: actions.SnsAction;
  private readonly alarmNamePrefix: string;

  constructor(scope: Construct, id: string, props: AlarmSetProps) {
    super(scope, id);
    this.alarmNamePrefix = props.alarmNamePrefix;
    const { topic } = props;
    this.topic =
      'topicArn' in topic
        ? topic
        : new sns.Topic(this, 'Topic', {
            topicName: topic.topicName,
            displayName: topic.displayName,
            masterKey: topic.key,
            enforceSSL: true,
          });
    this.action = new actions.SnsAction(this.topic);
  }

  protected alarm(alarmId: string, description: string, options: AlarmOptions): cloudwatch.Alarm {
    const created = new cloudwatch.Alarm(this, alarmId, {
      alarmName: `${this.alarmNamePrefix}-${alarmId.replace(/([a-z])([A-Z0-9])/g, '$1-$2').toLowerCase()}`,
      alarmDescription: description,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...options,
    });
    created.addAlarmAction(this.action);
    created.addOkAction(this.action);
    this.alarms.push(created);
    return created;
  }
}
