import { BatchClient } from '@aws-sdk/client-batch';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { Context } from 'aws-lambda';
import { BatchBackend, type BatchJobStateChange, batchEventToStatus } from '../../backends/batch';
import { eksTokenProvider } from '../../backends/eks-token';
import { HttpKubernetesApi } from '../../backends/kubernetes-api';
import { RayEksBackend } from '../../backends/ray-eks';
import {
  SageMakerBackend,
  type SageMakerTrainingJobStateChange,
  sagemakerEventToStatus,
} from '../../backends/sagemaker';
import { awsPools, teamsOf } from '../../jobs/cluster';
import { Dispatcher } from '../../jobs/dispatcher';
import type { BackendJobStatus } from '../../jobs/ports';
import { DynamoDbDispatcherState } from '../../jobs/store/dynamodb-dispatcher-state';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { dynamodb, environment, jobStore, requiredEnv } from '../commons/platform';
import { logger, metrics, tracer } from '../commons/powertools';

const region = requiredEnv('AWS_REGION');

const dispatcher = new Dispatcher({
  store: jobStore,
  policy: new DrivetrainPolicy(),
  pools: awsPools(environment),
  teams: teamsOf(environment),
  defaultBackend: 'batch',
  stateStore: new DynamoDbDispatcherState(dynamodb, requiredEnv('JOB_TABLE_NAME')),
  warn: (message, detail) => logger.warn(message, detail),
  backends: {
    batch: new BatchBackend(tracer.captureAWSv3Client(new BatchClient({})), { env: environment.name }),
    sagemaker: new SageMakerBackend(tracer.captureAWSv3Client(new SageMakerClient({})), {
      roleArn: requiredEnv('SAGEMAKER_ROLE_ARN'),
      outputUri: requiredEnv('SAGEMAKER_OUTPUT_URI'),
      checkpointUri: requiredEnv('SAGEMAKER_CHECKPOINT_URI'),
      kmsKeyId: requiredEnv('SAGEMAKER_KMS_KEY_ID'),
      subnets: requiredEnv('SAGEMAKER_SUBNETS').split(','),
      securityGroupIds: requiredEnv('SAGEMAKER_SECURITY_GROUPS').split(','),
    }),
    eks: new RayEksBackend(
      new HttpKubernetesApi({
        endpoint: requiredEnv('EKS_ENDPOINT'),
        certificateAuthority: requiredEnv('EKS_CERTIFICATE_AUTHORITY'),
        token: eksTokenProvider({ clusterName: requiredEnv('EKS_CLUSTER_NAME'), region }),
      }),
    ),
  },
});

type DispatcherEvent = { source?: string; 'detail-type'?: string; detail?: unknown };

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

/**
 * One invocation = apply the event (if it reports a backend state change), then one round.
 * Reserved concurrency 1 keeps rounds from racing; a failed round is retried by Lambda and
 * healed by the next one, since every step is idempotent.
 */
export const handler = async (event: DispatcherEvent, context: Context) => {
  logger.addContext(context);
  try {
    const status = statusOf(event);
    if (status) {
      const job = await dispatcher.applyStatus(status);
      logger.info('backend status applied', { name: status.name, state: status.state, jobState: job?.state });
    }
    const summary = await dispatcher.round();
    metrics.addMetric('JobsStarted', 'Count', summary.started.length);
    metrics.addMetric('JobsPreempted', 'Count', summary.preempted.length);
    metrics.addMetric('JobsPending', 'Count', summary.pending);
    logger.info('round done', { ...summary, started: summary.started.length });
    return summary;
  } finally {
    metrics.publishStoredMetrics();
  }
};
