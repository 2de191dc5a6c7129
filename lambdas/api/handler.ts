import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { createApi } from '../../api/app';
import { iamPrincipalTeam } from '../../api/identity';
import { BatchLogSource } from '../../backends/batch-logs';
import { awsPools, teamsOf } from '../../jobs/cluster';
import { latestQueueReport } from '../../jobs/queues';
import { JobService } from '../../jobs/service';
import { DynamoDbDispatcherState } from '../../jobs/store/dynamodb-dispatcher-state';
import { dynamodb, environment, jobStore, requiredEnv } from '../commons/platform';
import { logger, metrics, tracer } from '../commons/powertools';

const events = tracer.captureAWSv3Client(new EventBridgeClient({}));
const eventBusName = requiredEnv('EVENT_BUS_NAME');
const pools = awsPools(environment);
const dispatcherState = new DynamoDbDispatcherState(dynamodb, requiredEnv('JOB_TABLE_NAME'));
const teams = teamsOf(environment);

const service = new JobService({
  store: jobStore,
  environment,
  backends: ['batch', 'eks', 'sagemaker'],
  onSubmitted: async (job) => {
    metrics.addMetric('JobSubmitted', 'Count', 1);
    // Wakes the dispatcher now rather than at its next scheduled round.
    await events
      .send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: eventBusName,
              Source: 'drivetrain.jobs',
              DetailType: 'Drivetrain Job Submitted',
              Detail: JSON.stringify({ jobId: job.id, team: job.team }),
            },
          ],
        }),
      )
      .catch((error: unknown) => logger.warn('could not wake the dispatcher; its schedule will', { error }));
  },
});

const app = createApi({
  service,
  resolveTeam: iamPrincipalTeam(environment),
  queues: () => latestQueueReport(dispatcherState, jobStore, pools, teams),
  logs: new BatchLogSource(
    jobStore,
    tracer.captureAWSv3Client(new BatchClient({})),
    tracer.captureAWSv3Client(new CloudWatchLogsClient({})),
    requiredEnv('JOB_LOG_GROUP'),
  ),
});

const serve = handle(app);

/** API Gateway (REST, IAM auth) → the same hono app the local runtime serves. */
export const handler = async (event: LambdaEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await serve(event, context as Parameters<typeof serve>[1]);
  } finally {
    metrics.publishStoredMetrics();
  }
};
