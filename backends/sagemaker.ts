import {
  CreateTrainingJobCommand,
  type CreateTrainingJobRequest,
  DescribeTrainingJobCommand,
  type ResourceConfig,
  type SageMakerClient,
  StopTrainingJobCommand,
  type TrainingInstanceType,
} from '@aws-sdk/client-sagemaker';
import { sageMakerInstanceOf } from '../config/capacity';
import { TRAINING_INSTANCES } from '../config/sagemaker-instances';
import type { Dispatch, JobRecord } from '../jobs/job';
import type { BackendJobStatus, BackendSubmission, ComputeBackend } from '../jobs/ports';
import { attemptEnvironment, attemptTags } from './attempt';

export interface SageMakerBackendOptions {
  /** Execution role the training jobs run as (SageMakerTraining.executionRole). */
  readonly roleArn: string;
  /** S3 prefix for model artifacts; SageMaker adds `<training job name>/output/`. */
  readonly outputUri: string;
  /** S3 prefix for checkpoints; each job gets `<checkpointUri>/<job id>/`. */
  readonly checkpointUri: string;
  /** KMS key for output and checkpoints, and for EBS storage volumes (instances without local NVMe). */
  readonly kmsKeyId: string;
  /** Private subnets for VPC-mode jobs. */
  readonly subnets: readonly string[];
  /** Security groups of the instances (SageMakerTraining.securityGroup). */
  readonly securityGroupIds: readonly string[];
  /**
   * Storage volume per instance.
   * @default 200
   */
  readonly volumeSizeGiB?: number;
  /**
   * How long a managed-spot job may wait for spot capacity, on top of its runtime.
   * @default 21600 (6 hours)
   */
  readonly spotWaitS?: number;
}

/** Where SageMaker syncs `CheckpointConfig.S3Uri` to and from inside the container. */
export const CHECKPOINT_PATH = '/opt/ml/checkpoints';

/**
 * SageMaker training: one training job per attempt. Training job names are unique per
 * account and region, so a repeated submit of the same attempt finds the first job.
 */
export class SageMakerBackend implements ComputeBackend {
  readonly kind = 'sagemaker' as const;

  constructor(
    private readonly client: SageMakerClient,
    private readonly options: SageMakerBackendOptions,
  ) {}

  async submit({ job, dispatch }: BackendSubmission): Promise<{ backendJobId: string }> {
    try {
      const { TrainingJobArn } = await this.client.send(
        new CreateTrainingJobCommand(createTrainingJobRequest(job, dispatch, this.options)),
      );
      if (TrainingJobArn === undefined) throw new Error(`SageMaker returned no ARN for ${dispatch.name}`);
      return { backendJobId: TrainingJobArn };
    } catch (error) {
      if (errorName(error) !== 'ResourceInUse') throw error;
      const existing = await this.findByName(dispatch);
      if (existing === undefined) throw error;
      return existing;
    }
  }

  async findByName(dispatch: Dispatch): Promise<{ backendJobId: string } | undefined> {
    const described = await this.describe(dispatch.name);
    return described?.TrainingJobArn === undefined ? undefined : { backendJobId: described.TrainingJobArn };
  }

  async terminate(dispatch: Dispatch, _reason: string): Promise<void> {
    try {
      await this.client.send(new StopTrainingJobCommand({ TrainingJobName: dispatch.name }));
    } catch (error) {
      if (isNotFound(error)) return;
      // Stopping a job that already ended is refused with a ValidationException; that is fine.
      if ((await this.describe(dispatch.name))?.TrainingJobStatus !== 'InProgress') return;
      throw error;
    }
  }

  private async describe(name: string) {
    try {
      return await this.client.send(new DescribeTrainingJobCommand({ TrainingJobName: name }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** The exact CreateTrainingJob request of one attempt. */
export function createTrainingJobRequest(
  job: JobRecord,
  dispatch: Dispatch,
  options: SageMakerBackendOptions,
): CreateTrainingJobRequest {
  const { spec } = job;
  const spot = dispatch.capacityType === 'spot';
  return {
    TrainingJobName: dispatch.name,
    AlgorithmSpecification: {
      TrainingImage: spec.image,
      TrainingInputMode: 'File',
      ContainerEntrypoint: spec.command,
      // SageMaker rejects an empty argument list.
      ...(spec.args.length > 0 ? { ContainerArguments: spec.args } : {}),
    },
    RoleArn: options.roleArn,
    OutputDataConfig: { S3OutputPath: options.outputUri, KmsKeyId: options.kmsKeyId },
    ResourceConfig: resourceConfig(instanceTypeOf(dispatch), spec.resources.nodes, options),
    StoppingCondition: {
      MaxRuntimeInSeconds: spec.maxRuntimeS,
      ...(spot ? { MaxWaitTimeInSeconds: spec.maxRuntimeS + (options.spotWaitS ?? 6 * 3600) } : {}),
    },
    EnableManagedSpotTraining: spot,
    // Per job, not per attempt: a requeued attempt resumes from the last checkpoint.
    CheckpointConfig: { S3Uri: `${options.checkpointUri}/${job.id}`, LocalPath: CHECKPOINT_PATH },
    VpcConfig: { Subnets: [...options.subnets], SecurityGroupIds: [...options.securityGroupIds] },
    Environment: attemptEnvironment(job),
    Tags: Object.entries(attemptTags(job)).map(([Key, Value]) => ({ Key, Value })),
    EnableInterContainerTrafficEncryption: true,
  };
}

/**
 * Instances with local NVMe storage use it as their volume, encrypted by the instance's
 * hardware module, and SageMaker refuses a volume key for them
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html);
 * the others get an EBS volume encrypted with Drivetrain's key.
 */
function resourceConfig(
  instanceType: string,
  count: number,
  options: SageMakerBackendOptions,
): ResourceConfig {
  const instance = TRAINING_INSTANCES[instanceType];
  if (!instance) throw new Error(`${instanceType} is not in config/sagemaker-instances.ts`);
  const type = instanceType as TrainingInstanceType;
  if (instance.instanceStore) return { InstanceType: type, InstanceCount: count };
  return {
    InstanceType: type,
    InstanceCount: count,
    VolumeSizeInGB: options.volumeSizeGiB ?? 200,
    VolumeKmsKeyId: options.kmsKeyId,
  };
}

/** The instance type of the pool the job was placed in: the job runs on exactly that type. */
function instanceTypeOf(dispatch: Dispatch): string {
  const type = sageMakerInstanceOf(dispatch.pool);
  if (type === undefined) throw new Error(`pool ${dispatch.pool} is not a SageMaker pool`);
  return type;
}

/** The part of an EventBridge "SageMaker Training Job State Change" event the dispatcher reads. */
export interface SageMakerTrainingJobStateChange {
  readonly 'detail-type'?: string;
  readonly detail: {
    readonly TrainingJobName: string;
    readonly TrainingJobArn: string;
    readonly TrainingJobStatus: string;
    readonly SecondaryStatus?: string;
    readonly FailureReason?: string;
  };
}

/** Secondary statuses in which the container is doing the job's work. */
const WORKING = new Set(['Training', 'Uploading']);

/**
 * What a SageMaker state change means for the job. Managed spot resumes interrupted jobs by
 * itself (InProgress/Interrupted is still STARTING); a job that ends because spot capacity
 * never came back (MaxWaitTimeExceeded) or capacity was lost is INTERRUPTED and requeued.
 */
export function sagemakerEventToStatus(event: SageMakerTrainingJobStateChange): BackendJobStatus {
  const { detail } = event;
  const base = { name: detail.TrainingJobName, backendJobId: detail.TrainingJobArn };
  const secondary = detail.SecondaryStatus ?? '';
  const reason = detail.FailureReason;
  switch (detail.TrainingJobStatus) {
    case 'InProgress':
      return {
        ...base,
        state: WORKING.has(secondary) ? 'RUNNING' : 'STARTING',
        reason: secondary || undefined,
      };
    case 'Stopping':
      return { ...base, state: 'RUNNING', reason: 'Stopping' };
    case 'Completed':
      return { ...base, state: 'SUCCEEDED', exitCode: 0 };
    case 'Stopped':
      if (secondary === 'MaxWaitTimeExceeded') return { ...base, state: 'INTERRUPTED', reason: secondary };
      return { ...base, state: 'FAILED', reason: reason ?? (secondary || 'Stopped') };
    default:
      if (secondary === 'Interrupted' || reason?.startsWith('CapacityError')) {
        return { ...base, state: 'INTERRUPTED', reason: reason ?? secondary };
      }
      return { ...base, state: 'FAILED', reason, exitCode: exitCodeIn(reason) };
  }
}

/** AlgorithmError reasons quote the container's exit code ("… exit code 3"). */
function exitCodeIn(reason: string | undefined): number | undefined {
  const match = reason?.match(/exit code:? (\d+)/i);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * SageMaker models a ResourceNotFound error, yet DescribeTrainingJob answers an unknown name
 * with a ValidationException "Requested resource not found"; both mean "no such job".
 */
function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return (
    name === 'ResourceNotFound' ||
    (name === 'ValidationException' && /not found/i.test((error as Error).message))
  );
}
