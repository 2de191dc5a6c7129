import { ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ATTEMPT_NAME_PREFIX } from './dispatcher-triggers';

export interface DispatcherPermissionsProps {
  readonly env: string;
  /** Names of this environment's Batch job queues (config/queues.ts planQueues). */
  readonly queueNames: readonly string[];
  /** Job and execution roles of the base job definitions, which per-image copies reuse. */
  readonly batchRoleArns: readonly string[];
  /** The role SageMaker training jobs run as. */
  readonly sageMakerRoleArn: string;
  /** Subnets and security groups every training job must use. */
  readonly sageMakerSubnetIds: readonly string[];
  readonly sageMakerSecurityGroupIds: readonly string[];
  /** The key training jobs must encrypt output and EBS volumes with. */
  readonly sageMakerKeyArn: string;
  /**
   * Training instance types of the capacity model, by storage: SageMaker refuses a volume
   * key for types with local NVMe storage, so only the others are held to the key.
   */
  readonly sageMakerInstanceTypes: {
    readonly ebs: readonly string[];
    readonly instanceStore: readonly string[];
  };
  readonly clusterArn: string;
}

export interface DispatcherPermissions {
  readonly statements: iam.PolicyStatement[];
  /** Wildcard resources of `statements`, each with why nothing narrower works. */
  readonly wildcards: Record<string, string>;
}

/**
 * The backend calls of lambdas/dispatcher (backends/batch.ts, batch-job-definitions.ts,
 * sagemaker.ts), each granted on the narrowest resource the service authorizes.
 */
export function dispatcherPermissions(
  stack: Stack,
  props: DispatcherPermissionsProps,
): DispatcherPermissions {
  const batch = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'batch', resource, resourceName });
  const queues = props.queueNames.map((name) => batch('job-queue', name));
  const jobDefinitions = batch('job-definition', `drivetrain-${props.env}-*`);
  const jobs = batch('job', '*');
  const trainingJobs = stack.formatArn({
    service: 'sagemaker',
    resource: 'training-job',
    resourceName: `${ATTEMPT_NAME_PREFIX}*`,
  });

  const statements = [
    new iam.PolicyStatement({
      sid: 'SubmitToDrivetrainQueues',
      actions: ['batch:SubmitJob'],
      resources: [...queues, jobDefinitions],
    }),
    new iam.PolicyStatement({
      sid: 'RegisterImageJobDefinitions',
      actions: ['batch:RegisterJobDefinition', 'batch:TagResource'],
      resources: [jobDefinitions],
    }),
    new iam.PolicyStatement({
      sid: 'TagAndTerminateJobs',
      actions: ['batch:TagResource', 'batch:TerminateJob'],
      resources: [jobs],
    }),
    new iam.PolicyStatement({
      sid: 'FindJobsAndDefinitions',
      actions: ['batch:ListJobs', 'batch:DescribeJobDefinitions'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'PassBatchJobRoles',
      actions: ['iam:PassRole'],
      resources: [...props.batchRoleArns],
      conditions: { StringEquals: { 'iam:PassedToService': 'batch.amazonaws.com' } },
    }),
    ...trainingJobStatements(trainingJobs, props),
    new iam.PolicyStatement({
      sid: 'ManageTrainingJobs',
      actions: ['sagemaker:AddTags', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
      resources: [trainingJobs],
    }),
    new iam.PolicyStatement({
      sid: 'PassSageMakerRole',
      actions: ['iam:PassRole'],
      resources: [props.sageMakerRoleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      sid: 'DescribeCluster',
      actions: ['eks:DescribeCluster'],
      resources: [props.clusterArn],
    }),
  ];

  return {
    statements,
    wildcards: {
      '*': 'batch:ListJobs and batch:DescribeJobDefinitions have no resource-level permissions; the dispatcher only lists by job name and describes by definition name.',
      [jobDefinitions]: `Base definitions are drivetrain-${props.env}-<shape> and per-image copies drivetrain-${props.env}-<shape>-<image hash>, registered at run time; the wildcard also covers their revisions.`,
      [jobs]:
        'Batch assigns job ids at submit time, so TerminateJob and the tag-on-create check of SubmitJob cannot name a job in advance; submits are limited to Drivetrain queues.',
      [trainingJobs]: `Training jobs are named ${ATTEMPT_NAME_PREFIX}<job id>-<attempt> at run time; creation is also pinned to Drivetrain's subnets, security group and key.`,
    },
  };
}

/**
 * CreateTrainingJob pinned to Drivetrain's subnets, security groups, output key and the
 * configured instance types: EBS-backed types must encrypt their volume with the key, types
 * with local NVMe storage must not name one (their storage is encrypted by the instance).
 */
function trainingJobStatements(
  trainingJobs: string,
  props: DispatcherPermissionsProps,
): iam.PolicyStatement[] {
  const network = {
    Null: {
      'sagemaker:VpcSubnets': 'false',
      'sagemaker:VpcSecurityGroupIds': 'false',
      'sagemaker:InstanceTypes': 'false',
    },
    'ForAllValues:StringEquals': {
      'sagemaker:VpcSubnets': [...props.sageMakerSubnetIds],
      'sagemaker:VpcSecurityGroupIds': [...props.sageMakerSecurityGroupIds],
    },
  };
  const { ebs, instanceStore } = props.sageMakerInstanceTypes;
  const statement = (sid: string, types: readonly string[], key: Record<string, Record<string, string>>) =>
    new iam.PolicyStatement({
      sid,
      actions: ['sagemaker:CreateTrainingJob'],
      resources: [trainingJobs],
      conditions: {
        ...key,
        Null: { ...network.Null, ...key.Null },
        'ForAllValues:StringEquals': {
          ...network['ForAllValues:StringEquals'],
          'sagemaker:InstanceTypes': [...types],
        },
        StringEquals: { ...key.StringEquals, 'sagemaker:OutputKmsKey': props.sageMakerKeyArn },
      },
    });
  return [
    ...(ebs.length > 0
      ? [
          statement('CreateEbsTrainingJobs', ebs, {
            StringEquals: { 'sagemaker:VolumeKmsKey': props.sageMakerKeyArn },
          }),
        ]
      : []),
    ...(instanceStore.length > 0
      ? [
          statement('CreateInstanceStoreTrainingJobs', instanceStore, {
            Null: { 'sagemaker:VolumeKmsKey': 'true' },
          }),
        ]
      : []),
  ];
}

/** ARN of the default event bus, the only bus the API puts events on. */
export function defaultEventBusArn(stack: Stack): string {
  return stack.formatArn({
    service: 'events',
    resource: 'event-bus',
    resourceName: 'default',
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}
