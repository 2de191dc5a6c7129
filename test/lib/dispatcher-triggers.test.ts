import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, test } from 'vitest';
import { BATCH_STATUSES, STATE_CHANGE_BATCH_SIZE } from '../../lib/scheduling/dispatcher-triggers';
import { propertiesOf, schedulingTemplate, stageOf } from './app-fixture';

describe('the dispatcher event path (EventBridge → SQS → dispatcher)', () => {
  const template = schedulingTemplate('dev');
  const stateChanges = () =>
    Object.entries(template.findResources('AWS::SQS::Queue')).find(
      ([, r]) =>
        (r as { Properties: { QueueName?: string } }).Properties.QueueName === 'drivetrain-dev-state-changes',
    )!;

  test('GIVEN the scheduling stack THEN state changes queue in SQS, KMS-encrypted, and dead-letter after 5 tries', () => {
    const [, queue] = stateChanges();

    expect((queue as { Properties: Record<string, unknown> }).Properties).toMatchObject({
      KmsMasterKeyId: expect.anything(),
      // Six times the dispatcher's 5-minute timeout.
      VisibilityTimeout: 1800,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: expect.anything() },
    });
  });

  test('GIVEN the scheduling stack THEN the dispatcher consumes the queue in batches and reports partial failures', () => {
    const [queueId] = stateChanges();

    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: STATE_CHANGE_BATCH_SIZE,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('GIVEN the scheduling stack THEN Batch and SageMaker rules send only the transitions that move a job to the queue', () => {
    const [queueId] = stateChanges();
    const rules = propertiesOf(template, 'AWS::Events::Rule');
    const batch = rules.find((r) => r.Name === 'drivetrain-dev-dispatcher-batch')!;
    const sageMaker = rules.find((r) => r.Name === 'drivetrain-dev-dispatcher-sagemaker')!;

    expect(batch.EventPattern).toMatchObject({ detail: { status: BATCH_STATUSES } });
    expect(
      (sageMaker.EventPattern as { detail: { SecondaryStatus: string[] } }).detail.SecondaryStatus,
    ).not.toContain('Downloading');
    for (const rule of [batch, sageMaker]) {
      expect(rule.Targets).toEqual([
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [queueId, 'Arn'] },
          DeadLetterConfig: { Arn: expect.anything() },
        }),
      ]);
    }
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sqs:SendMessage', Principal: { Service: 'events.amazonaws.com' } }),
        ]),
      },
    });
  });

  test('GIVEN the scheduling stack THEN cdk-nag AwsSolutions finds nothing in the event path', () => {
    const findings = new AwsSolutionsChecks()
      .validateScope(stageOf('dev'))
      .violations.flatMap((v) =>
        v.violatingResources.map(
          (r) => `${v.ruleName} at ${(r as { constructPath?: string }).constructPath}`,
        ),
      )
      .filter((finding) => finding.includes('/Triggers/'));

    expect(findings).toEqual([]);
  });
});
