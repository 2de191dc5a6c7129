import { expect, test } from 'vitest';
import { isQueueBatch, statusesOf } from '../../lambdas/dispatcher/events';

const batchRunning = {
  source: 'aws.batch',
  'detail-type': 'Batch Job State Change',
  detail: { jobName: 'dt-01jd5s7n0pabcdefghjkmn-1', jobId: 'b-1', status: 'RUNNING', jobQueue: 'q' },
};
const sageMakerCompleted = {
  source: 'aws.sagemaker',
  'detail-type': 'SageMaker Training Job State Change',
  detail: {
    TrainingJobName: 'dt-01jd5s7n0pabcdefghjkmo-2',
    TrainingJobArn: 'arn:aws:sagemaker:us-east-1:111111111111:training-job/dt-01jd5s7n0pabcdefghjkmo-2',
    TrainingJobStatus: 'Completed',
    SecondaryStatus: 'Completed',
  },
};

test('one queue batch carries many state changes; a message that is none is dropped with a warning', () => {
  // GIVEN an SQS batch as the event source delivers it: EventBridge events as message bodies
  const warnings: unknown[] = [];
  const batch = {
    Records: [
      { messageId: '1', eventSource: 'aws:sqs', body: JSON.stringify(batchRunning) },
      { messageId: '2', eventSource: 'aws:sqs', body: JSON.stringify(sageMakerCompleted) },
      { messageId: '3', eventSource: 'aws:sqs', body: 'not json' },
      { messageId: '4', eventSource: 'aws:sqs', body: JSON.stringify(batchRunning) },
    ],
  };

  // WHEN
  const statuses = statusesOf(batch, { warn: (...args: unknown[]) => warnings.push(args) });

  // THEN a redelivered duplicate is passed on as is: the dispatcher applies it idempotently
  expect(isQueueBatch(batch)).toBe(true);
  expect(isQueueBatch(batchRunning)).toBe(false);
  expect(statuses.map((s) => [s.name, s.state])).toEqual([
    ['dt-01jd5s7n0pabcdefghjkmn-1', 'RUNNING'],
    ['dt-01jd5s7n0pabcdefghjkmo-2', 'SUCCEEDED'],
    ['dt-01jd5s7n0pabcdefghjkmn-1', 'RUNNING'],
  ]);
  expect(warnings).toHaveLength(1);
});
