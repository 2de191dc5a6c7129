import { BatchClient } from '@aws-sdk/client-batch';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { Context } from 'aws-lambda';
import { BatchBackend } from '../../backends/batch';
import { eksTokenProvider } from '../../backends/eks-token';
import { HttpKubernetesApi } from '../../backends/kubernetes-api';
import { RayEksBackend } from '../../backends/ray-eks';
import { SageMakerBackend } from '../../backends/sagemaker';
import { awsPools, teamsOf } from '../../jobs/cluster';
import { Dispatcher } from '../../jobs/dispatcher';
import { DynamoDbDispatcherState } from '../../jobs/store/dynamodb-dispatcher-state';
import { S3CheckpointStore } from '../../jobs/store/s3-checkpoint-store';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { dynamodb, environment, jobStore, requiredEnv } from '../commons/platform';
import { logger, metrics, tracer } from '../commons/powertools';
import { type DispatcherEvent, isQueueBatch, type QueueBatch, statusesOf, statusOf } from './events';

const region = requiredEnv('AWS_REGION');

// Each job's attempts checkpoint under this prefix of the artifacts bucket (SageMaker syncs there too).
const checkpoints = S3CheckpointStore.fromUri(
  tracer.captureAWSv3Client(new S3Client({})),
  process.env.CHECKPOINT_URI ?? requiredEnv('SAGEMAKER_CHECKPOINT_URI'),
);

const dispatcher = new Dispatcher({
  store: jobStore,
  policy: new DrivetrainPolicy(),
  pools: awsPools(environment),
  teams: teamsOf(environment),
  defaultBackend: 'batch',
  environment,
  stateStore: new DynamoDbDispatcherState(dynamodb, requiredEnv('JOB_TABLE_NAME')),
  warn: (message, detail) => logger.warn(message, detail),
  checkpoints,
  backends: {
    batch: new BatchBackend(tracer.captureAWSv3Client(new BatchClient({})), {
      env: environment.name,
      checkpoints,
    }),
    sagemaker: new SageMakerBackend(tracer.captureAWSv3Client(new SageMakerClient({})), {
      roleArn: requiredEnv('SAGEMAKER_ROLE_ARN'),
      outputUri: requiredEnv('SAGEMAKER_OUTPUT_URI'),
      checkpointUri: requiredEnv('SAGEMAKER_CHECKPOINT_URI'),
      kmsKeyId: requiredEnv('SAGEMAKER_KMS_KEY_ID'),
      subnets: requiredEnv('SAGEMAKER_SUBNETS').split(','),
      securityGroupIds: requiredEnv('SAGEMAKER_SECURITY_GROUPS').split(','),
      checkpoints,
    }),
    eks: new RayEksBackend(
      new HttpKubernetesApi({
        endpoint: requiredEnv('EKS_ENDPOINT'),
        certificateAuthority: requiredEnv('EKS_CERTIFICATE_AUTHORITY'),
        token: eksTokenProvider({ clusterName: requiredEnv('EKS_CLUSTER_NAME'), region }),
      }),
      { checkpoints, podsReadyTimeoutS: environment.eks.podsReadyTimeoutS },
    ),
  },
});

/**
 * One invocation = one round, which first applies the state changes it was given: a batch
 * from the queue (many events in one round), or the event itself. Reserved concurrency 1
 * keeps rounds from racing. A failed round fails the whole batch, which SQS delivers again
 * (applying a state change twice changes nothing) and dead-letters after five tries.
 */
export const handler = async (event: DispatcherEvent | QueueBatch, context: Context) => {
  logger.addContext(context);
  try {
    const statuses = isQueueBatch(event)
      ? statusesOf(event, logger)
      : [statusOf(event)].filter((s) => s !== undefined);
    const summary = await dispatcher.round(statuses);
    metrics.addMetric('StatusesApplied', 'Count', summary.statuses);
    metrics.addMetric('JobsStarted', 'Count', summary.started.length);
    metrics.addMetric('JobsPreempted', 'Count', summary.preempted.length);
    metrics.addMetric('JobsLost', 'Count', summary.lost.length);
    metrics.addMetric('JobsPending', 'Count', summary.pending);
    logger.info('round done', { ...summary, started: summary.started.length });
    return isQueueBatch(event) ? { batchItemFailures: [] } : summary;
  } finally {
    metrics.publishStoredMetrics();
  }
};
