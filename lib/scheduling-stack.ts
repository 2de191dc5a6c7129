import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TRAINING_INSTANCES } from '../config/sagemaker-instances';
import type { EnvironmentConfig } from '../config/schema';
import type { ComputeStack } from './compute-stack';
import { encryptionKey } from './encryption-key';
import { HandlerFunction, httpsEgressSecurityGroup } from './handler-function';
import type { KubernetesStack } from './kubernetes-stack';
import { acknowledge, acknowledgeWildcards } from './nag';
import { DispatcherClusterAccess } from './scheduling/dispatcher-cluster-access';
import { defaultEventBusArn, dispatcherPermissions } from './scheduling/dispatcher-permissions';
import { DispatcherTriggers, JOB_SUBMITTED } from './scheduling/dispatcher-triggers';
import { JobApi, type JobApiThrottling } from './scheduling/job-api';
import { JobTable } from './scheduling/job-table';
import { SchedulingAlarms } from './scheduling/scheduling-alarms';

export interface SchedulingStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The functions run in this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
  /** Batch queues and job definitions, and the SageMaker training resources. */
  readonly compute: ComputeStack;
  /** The EKS cluster and team namespaces RayJobs run in. */
  readonly kubernetes: KubernetesStack;
}

/**
 * Admission control at the gateway: a few hundred researchers and CI pipelines submit and
 * poll; the WAF limit stops one runaway client from using the whole stage budget.
 */
export const API_THROTTLING: JobApiThrottling = { rateLimit: 50, burstLimit: 100, perIpPerFiveMinutes: 3000 };

/** A round reads the live jobs, asks the scheduler and calls the backends: minutes at most. */
const DISPATCHER_TIMEOUT = Duration.minutes(5);

/**
 * The scheduling pillar on AWS: the job table, the job API (API Gateway REST with SigV4 in
 * front of the API Lambda) and the dispatcher Lambda that EventBridge wakes every minute,
 * on each submission and on Drivetrain's Batch and SageMaker state changes, and that
 * submits to Batch, SageMaker and EKS with least-privilege IAM.
 */
export class SchedulingStack extends Stack {
  public readonly key: kms.Key;
  public readonly jobs: JobTable;
  public readonly apiFunction: HandlerFunction;
  public readonly api: JobApi;
  public readonly dispatcher: HandlerFunction;
  public readonly dispatcherDeadLetters: sqs.Queue;
  public readonly triggerDeadLetters: sqs.Queue;
  public readonly triggers: DispatcherTriggers;
  public readonly alarms: SchedulingAlarms;

  constructor(scope: Construct, id: string, props: SchedulingStackProps) {
    super(scope, id, props);
    const { config, vpc, compute, kubernetes } = props;
    const env = config.name;
    const retain = config.removalPolicy === 'retain';
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = encryptionKey(this, 'Key', {
      description: `Drivetrain ${env} scheduling: job table, logs, dead letters, alarm topic`,
      removalPolicy,
      // EventBridge writes undeliverable events, and CloudWatch alarm notifications, through this key.
      services: ['events.amazonaws.com', 'cloudwatch.amazonaws.com'],
    });

    this.jobs = new JobTable(this, 'JobTable', {
      tableName: `drivetrain-${env}-jobs`,
      key: this.key,
      removalPolicy,
      deletionProtection: retain,
    });

    const deadLetters = (queueId: string, name: string) => {
      const queue = new sqs.Queue(this, queueId, {
        queueName: `drivetrain-${env}-${name}`,
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: this.key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      return queue;
    };
    this.dispatcherDeadLetters = deadLetters('DispatcherDeadLetters', 'dispatcher-dlq');
    this.triggerDeadLetters = deadLetters('TriggerDeadLetters', 'dispatcher-trigger-dlq');
    // cdk-nag recognises a Lambda's dead-letter queue as one, but not an EventBridge target's.
    acknowledge(this.triggerDeadLetters, {
      'AwsSolutions-SQS3':
        "This queue is itself the dead-letter queue of the dispatcher rules' EventBridge targets; a queue behind it would have nothing to catch.",
    });

    const https = (securityGroupId: string, description: string) =>
      httpsEgressSecurityGroup(this, securityGroupId, {
        vpc,
        description,
        egressDescription: 'HTTPS to AWS APIs',
      });
    const common = { vpc, key: this.key, removalPolicy };
    const platformEnvironment = {
      DRIVETRAIN_ENV: env,
      // config/environments.ts reads the account from this variable; the bundled copy must agree.
      [`DRIVETRAIN_${env.toUpperCase()}_ACCOUNT`]: config.account,
      JOB_TABLE_NAME: this.jobs.table.tableName,
      // The bundled config reads team principals from these when set; pin them to what was synthesized.
      ...Object.fromEntries(
        config.teams.map((team) => [
          `DRIVETRAIN_${env.toUpperCase()}_${team.name.toUpperCase()}_PRINCIPALS`,
          team.principals.join(','),
        ]),
      ),
    };

    const jobLogStreams = this.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/drivetrain/${env}/batch:log-stream:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.apiFunction = new HandlerFunction(this, 'ApiFunction', {
      ...common,
      handler: 'api',
      serviceName: `drivetrain-${env}-api`,
      description: 'Drivetrain job API (behind API Gateway, SigV4)',
      securityGroup: https('ApiSecurityGroup', 'Drivetrain job API Lambda: HTTPS out only'),
      timeout: Duration.seconds(15),
      memorySize: 512,
      environment: {
        ...platformEnvironment,
        EVENT_BUS_NAME: 'default',
        JOB_LOG_GROUP: compute.jobLogs.logGroupName,
      },
      wildcardReasons: {
        '*': 'batch:DescribeJobs, which finds the log stream of a job for `drivetrain logs`, has no resource-level permissions.',
        [jobLogStreams]:
          "Batch names each attempt's log stream at run time; reads stay inside the environment's job log group.",
      },
      statements: [
        ...this.jobs.storeStatements(this.key),
        // `drivetrain logs`: find the attempt's stream, then read it.
        new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }),
        new iam.PolicyStatement({
          actions: ['logs:GetLogEvents'],
          resources: [jobLogStreams],
        }),
        new iam.PolicyStatement({
          actions: ['events:PutEvents'],
          resources: [defaultEventBusArn(this)],
          conditions: {
            StringEquals: {
              'events:source': JOB_SUBMITTED.source,
              'events:detail-type': JOB_SUBMITTED.detailType,
            },
          },
        }),
      ],
    });
    acknowledge(this.apiFunction.function, {
      'NIST.800.53.R5-LambdaConcurrency': `API Gateway stage throttling (${API_THROTTLING.rateLimit}/s, burst ${API_THROTTLING.burstLimit}) and the per-IP WAF rule are the admission control; a reservation below the burst would turn admitted requests into 5xx throttles.`,
      'NIST.800.53.R5-LambdaDLQ':
        'API Gateway invokes this function synchronously: the caller gets the error, nothing is queued to dead-letter.',
    });

    const dispatcherSecurityGroup = https(
      'DispatcherSecurityGroup',
      'Drivetrain dispatcher Lambda: HTTPS out to AWS APIs and the EKS API',
    );
    const { cluster } = kubernetes;
    const privateSubnetIds = vpc.privateSubnets.map((subnet) => subnet.subnetId);
    const { sagemaker } = compute;
    const permissions = dispatcherPermissions(this, {
      env,
      queueNames: compute.queuePlans.map((plan) => plan.name),
      batchRoleArns: batchJobRoles(compute).map((role) => role.roleArn),
      sageMakerRoleArns: [...compute.teamRoles.values()].map((roles) => roles.sageMakerRole.roleArn),
      sageMakerSubnetIds: privateSubnetIds,
      sageMakerSecurityGroupIds: [sagemaker.securityGroup.securityGroupId],
      sageMakerKeyArn: compute.key.keyArn,
      sageMakerInstanceTypes: sageMakerInstanceTypes(config),
      clusterArn: cluster.clusterArn,
    });
    this.dispatcher = new HandlerFunction(this, 'Dispatcher', {
      ...common,
      handler: 'dispatcher',
      serviceName: `drivetrain-${env}-dispatcher`,
      description: 'Drivetrain dispatcher: one scheduling round per invocation',
      securityGroup: dispatcherSecurityGroup,
      timeout: DISPATCHER_TIMEOUT,
      memorySize: 1024,
      // One round at a time: rounds never race over the same jobs.
      reservedConcurrentExecutions: 1,
      deadLetterQueue: this.dispatcherDeadLetters,
      environment: {
        ...platformEnvironment,
        // Per-team roles and prefixes: the backend puts the job's team in place of {team}.
        SAGEMAKER_ROLE_ARN: sagemaker.roleArnTemplate,
        SAGEMAKER_OUTPUT_URI: sagemaker.outputUri,
        SAGEMAKER_CHECKPOINT_URI: sagemaker.checkpointUri,
        // The dispatcher's checkpoint store: <root>/<team>/<job id>/, the same prefix every backend uses.
        CHECKPOINT_URI: sagemaker.checkpointRootUri,
        SAGEMAKER_KMS_KEY_ID: compute.key.keyArn,
        SAGEMAKER_SUBNETS: privateSubnetIds.join(','),
        SAGEMAKER_SECURITY_GROUPS: sagemaker.securityGroup.securityGroupId,
        EKS_CLUSTER_NAME: cluster.clusterName,
        EKS_ENDPOINT: cluster.clusterEndpoint,
        EKS_CERTIFICATE_AUTHORITY: cluster.clusterCertificateAuthorityData,
      },
      statements: [
        ...this.jobs.storeStatements(this.key),
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: [this.dispatcherDeadLetters.queueArn],
        }),
        // Finds each job's newest checkpoint (a listing only, no object reads).
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [compute.artifacts.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [compute.artifacts.teamPrefix('*')] } },
        }),
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${this.region}.amazonaws.com` } },
        }),
      ],
    });
    // Backend grants sit apart from the function's own, and SubmitJob (one ARN per job
    // queue, up to Batch's 50) in a policy of its own: each stays far below 6,144 characters.
    const submits = (statement: iam.PolicyStatement) => statement.actions.includes('batch:SubmitJob');
    const backendPolicy = (policyId: string, purpose: string, statements: iam.PolicyStatement[]) => {
      const policy = new iam.ManagedPolicy(this, policyId, {
        description: `drivetrain-${env}-dispatcher: ${purpose}`,
        roles: [this.dispatcher.role],
        statements,
      });
      this.dispatcher.function.node.addDependency(policy);
      const resources = new Set(statements.flatMap((statement) => statement.resources));
      acknowledgeWildcards(
        this,
        policy,
        Object.fromEntries(Object.entries(permissions.wildcards).filter(([arn]) => resources.has(arn))),
      );
    };
    backendPolicy('DispatcherSubmitPolicy', 'Batch SubmitJob', permissions.statements.filter(submits));
    backendPolicy(
      'DispatcherBackendPolicy',
      'Batch, SageMaker and EKS calls',
      permissions.statements.filter((statement) => !submits(statement)),
    );

    new DispatcherClusterAccess(this, 'DispatcherClusterAccess', {
      cluster,
      role: this.dispatcher.role,
      securityGroup: dispatcherSecurityGroup,
      namespaces: [...kubernetes.teamNamespaces.values()].map((team) => team.namespace),
      namespacesCreatedBy: [...kubernetes.teamNamespaces.values()],
    });

    this.triggers = new DispatcherTriggers(this, 'Triggers', {
      env,
      dispatcher: this.dispatcher.function,
      jobQueueArnPrefix: this.formatArn({
        service: 'batch',
        resource: 'job-queue',
        resourceName: `drivetrain-${env}-`,
      }),
      deadLetterQueue: this.triggerDeadLetters,
    });

    this.api = new JobApi(this, 'Api', {
      env,
      handler: this.apiFunction.function,
      key: this.key,
      throttling: API_THROTTLING,
      logRetention: logs.RetentionDays.ONE_YEAR,
      removalPolicy,
    });

    this.alarms = new SchedulingAlarms(this, 'Alarms', {
      env,
      dispatcher: this.dispatcher.function,
      api: this.apiFunction.function,
      restApi: this.api.api,
      deadLetterQueues: { Dispatcher: this.dispatcherDeadLetters, Trigger: this.triggerDeadLetters },
      key: this.key,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.api.url,
      description: 'Base URL of the job API (SigV4)',
    });
    new CfnOutput(this, 'JobTableName', { value: this.jobs.table.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}

/** The capacity model's SageMaker instance types, by whether they carry local NVMe storage. */
function sageMakerInstanceTypes(config: EnvironmentConfig) {
  const types = [...new Set(config.sagemaker.instances.map((i) => i.instanceType))];
  return {
    ebs: types.filter((t) => !TRAINING_INSTANCES[t]?.instanceStore),
    instanceStore: types.filter((t) => TRAINING_INSTANCES[t]?.instanceStore),
  };
}

/** Job and execution roles of every base job definition: the only roles Batch jobs get. */
function batchJobRoles(compute: ComputeStack): iam.IRole[] {
  const containers = [...compute.jobDefinitions.values()].flatMap((definitions) => [
    definitions.singleNodeGpu.container,
    definitions.cpu.container,
    ...[...definitions.multiNode.values()].flatMap((definition) =>
      definition.containers.map((range) => range.container),
    ),
  ]);
  const roles = new Map<string, iam.IRole>();
  for (const container of containers) {
    for (const role of [container.jobRole, container.executionRole]) {
      if (role) roles.set(role.node.path, role);
    }
  }
  return [...roles.values()];
}
