import type { Logger } from '@aws-lambda-powertools/logger';
import { type BatchJobStateChange, batchEventToStatus } from '../../backends/batch';
import { type SageMakerTrainingJobStateChange, sagemakerEventToStatus } from '../../backends/sagemaker';
import type { BackendJobStatus } from '../../jobs/ports';

export type DispatcherEvent = { source?: string; 'detail-type'?: string; detail?: unknown };
/** A batch of state changes from the state-change queue (EventBridge → SQS → this function). */
export type QueueBatch = { Records: { messageId: string; eventSource?: string; body: string }[] };

/** What a backend's EventBridge state-change event says about one attempt, if it is one. */
export function statusOf(event: DispatcherEvent): BackendJobStatus | undefined {
  switch (event['detail-type']) {
    case 'Batch Job State Change':
      return batchEventToStatus(event as BatchJobStateChange);
    case 'SageMaker Training Job State Change':
      return sagemakerEventToStatus(event as SageMakerTrainingJobStateChange);
    default:
      return undefined; // the schedule or a job submission: just run a round
  }
}

/** The status reports in a queue batch; a message that is not a state change is logged and dropped. */
export function statusesOf(batch: QueueBatch, logger: Pick<Logger, 'warn'>): BackendJobStatus[] {
  return batch.Records.flatMap((record) => {
    try {
      const status = statusOf(JSON.parse(record.body) as DispatcherEvent);
      if (status) return [status];
    } catch {
      // not JSON: falls through to the warning
    }
    logger.warn('dropped a message that is no backend state change', { messageId: record.messageId });
    return [];
  });
}

export function isQueueBatch(event: unknown): event is QueueBatch {
  return Array.isArray((event as QueueBatch).Records);
}
