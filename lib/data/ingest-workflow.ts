import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type DataConfig, gibToBytes } from '../../config/data';
import {
  INGEST_DEFINITION_FILE,
  INGEST_SUCCEEDED_EVENT,
  type IngestSubstitutions,
  RAW_PREFIX,
  RAW_SUFFIXES,
  RUN_PREFIXES,
  substitutionText,
} from '../../step-functions/ingest';
import { acknowledge, acknowledgeWildcards } from '../nag';
import type { DataBuckets } from './data-buckets';
import { CATALOG_NAME, type IngestJobs } from './ingest-jobs';
import type { RunTable } from './run-table';

export interface IngestWorkflowProps {
  readonly env: string;
  readonly config: DataConfig;
  readonly buckets: DataBuckets;
  readonly runTable: RunTable;
  readonly jobs: IngestJobs;
  readonly databaseName: string;
  /** Run failures are published here. */
  readonly failureTopic: sns.ITopic;
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The EventBridge rule Step Functions manages to follow EMR Serverless job runs (.sync). */
const EMR_SYNC_RULE = 'StepFunctionsGetEventsForEMRServerlessJobRule';

/**
 * The ingest workflow: the state machine from `step-functions/ingest.asl.json` and what
 * starts it. S3 Object Created events under the raw prefix (with the ingest suffixes) are
 * buffered in SQS and handed over in batches by EventBridge Pipes; a schedule sweeps the
 * raw prefix for anything whose event was lost. Its role may run only Drivetrain's ingest
 * job, on Glue or on the EMR Serverless application.
 */
export class IngestWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly role: iam.Role;
  public readonly arrivals: sqs.Queue;
  public readonly deadLetters: sqs.Queue;
  public readonly objectCreatedRule: events.Rule;
  public readonly sweepRule: events.Rule;
  public readonly pipe: pipes.CfnPipe;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: IngestWorkflowProps) {
    super(scope, id);
    const { env, config, buckets, runTable, jobs, key, failureTopic } = props;
    const stack = Stack.of(this);
    const stateMachineName = `drivetrain-${env}-ingest`;
    // Literal, so the role's policy can name the machine without depending on it.
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const eventBusArn = stack.formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: 'default',
    });

    this.role = new iam.Role(this, 'Role', {
      roleName: `drivetrain-${env}-ingest-workflow`,
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Drivetrain ingest workflow: validates raw objects and runs the ingest job',
    });
    const emrApplicationArn = jobs.emrApplication.attrArn;
    const emrSyncRule = stack.formatArn({ service: 'events', resource: 'rule', resourceName: EMR_SYNC_RULE });
    const { rejected, runs } = RUN_PREFIXES;
    const statements = [
      ...buckets.access(buckets.raw, RAW_PREFIX, 'read'),
      new iam.PolicyStatement({
        // CopyObject carries the source's tags over.
        actions: ['s3:GetObjectTagging'],
        resources: [buckets.objectsArn(buckets.raw, `${RAW_PREFIX}*`)],
      }),
      ...buckets.access(buckets.quarantine, rejected, 'write'),
      new iam.PolicyStatement({
        actions: ['s3:PutObjectTagging'],
        resources: [buckets.objectsArn(buckets.quarantine, `${rejected}*`)],
      }),
      ...buckets.access(buckets.curated, runs, 'read-write'),
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [runTable.table.tableArn],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        actions: ['glue:StartJobRun', 'glue:GetJobRun', 'glue:GetJobRuns', 'glue:BatchStopJobRun'],
        resources: [jobs.glueJobArn],
      }),
      new iam.PolicyStatement({ actions: ['emr-serverless:StartJobRun'], resources: [emrApplicationArn] }),
      new iam.PolicyStatement({
        actions: ['emr-serverless:GetJobRun', 'emr-serverless:CancelJobRun'],
        resources: [`${emrApplicationArn}/jobruns/*`],
      }),
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [jobs.emrJobRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [emrSyncRule],
      }),
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [eventBusArn],
        conditions: {
          StringEquals: {
            'events:source': INGEST_SUCCEEDED_EVENT.source,
            'events:detail-type': INGEST_SUCCEEDED_EVENT.detailType,
          },
        },
      }),
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [failureTopic.topicArn] }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${stack.region}.amazonaws.com` } },
      }),
      // The next page of a sweep is a new execution of this machine.
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
      // Execution logs and traces: these actions take no resource-level permissions.
      new iam.PolicyStatement({
        actions: [
          'logs:CreateLogDelivery',
          'logs:GetLogDelivery',
          'logs:UpdateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:DescribeResourcePolicies',
          'logs:DescribeLogGroups',
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
        ],
        resources: ['*'],
      }),
    ];
    const policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `${stateMachineName}: validate raw objects, run the ingest job, publish and record runs`,
      roles: [this.role],
      statements,
    });
    acknowledgeWildcards(stack, policy, {
      [buckets.objectsArn(buckets.raw, `${RAW_PREFIX}*`)]:
        'Heads and copies any raw upload the run was started for.',
      [buckets.objectsArn(buckets.quarantine, `${rejected}*`)]:
        'Rejected objects and their reasons are written under the run id and their own key.',
      [buckets.objectsArn(buckets.curated, `${runs}*`)]:
        "Each run's inputs list and manifest live under its run id.",
      '*': 'CloudWatch Logs delivery and X-Ray actions take no resource-level permissions (Step Functions logging and tracing).',
    });

    acknowledge(policy, {
      [`AwsSolutions-IAM5[Resource::<${stack.getLogicalId(jobs.emrApplication)}.Arn>/jobruns/*]`]:
        'Job run ids are assigned by EMR Serverless at start; the ARNs stay inside the one application.',
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      encryptionKey: key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const substitutions: IngestSubstitutions = {
      RawBucket: buckets.names.raw,
      CuratedBucket: buckets.names.curated,
      QuarantineBucket: buckets.names.quarantine,
      RunTable: runTable.table.tableName,
      EventBusName: 'default',
      FailureTopicArn: failureTopic.topicArn,
      GlueJobName: jobs.glueJob.jobName,
      EmrApplicationId: jobs.emrApplication.attrApplicationId,
      EmrJobRoleArn: jobs.emrJobRole.roleArn,
      EmrEntryPoint: jobs.entryPointUri,
      EmrSparkSubmitParameters: jobs.emrSparkSubmitParameters,
      EmrLogGroup: jobs.emrLogs.logGroupName,
      WarehouseUri: jobs.warehouseUri,
      CatalogName: CATALOG_NAME,
      GlueDatabase: props.databaseName,
      JobConfig: config.job,
      MaxObjectBytes: gibToBytes(config.maxObjectGiB),
      MaxObjectsPerRun: config.maxObjectsPerRun,
      EmrThresholdBytes: gibToBytes(config.emrThresholdGiB),
      EmrTimeoutMinutes: config.emr.jobTimeoutMinutes,
    };
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(INGEST_DEFINITION_FILE),
      definitionSubstitutions: substitutionText(substitutions),
      // The policy above already grants what the machine's own set-up would add.
      role: this.role.withoutPolicyUpdates(),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    this.stateMachine.node.addDependency(policy);

    // Arrivals: S3 → EventBridge → SQS (buffer, retried, dead letters) → Pipes → Step Functions.
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      queueName: `drivetrain-${env}-ingest-dlq`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetters, {
      'AwsSolutions-SQS3':
        'This queue is itself the dead-letter queue of the arrivals queue and of the ingest rules; a queue behind it would have nothing to catch.',
    });
    this.arrivals = new sqs.Queue(this, 'Arrivals', {
      queueName: `drivetrain-${env}-ingest-arrivals`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Longer than the batching window plus a StartExecution call.
      visibilityTimeout: Duration.seconds(config.eventBatchWindowSeconds + 300),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
    });
    const delivery = {
      deadLetterQueue: this.deadLetters,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    };
    this.objectCreatedRule = new events.Rule(this, 'ObjectCreated', {
      ruleName: `drivetrain-${env}-raw-object-created`,
      description: 'Raw sensor logs uploaded under raw/ with an ingest suffix',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [buckets.names.raw] },
          object: { key: RAW_SUFFIXES.map((suffix) => ({ wildcard: `${RAW_PREFIX}*${suffix}` })) },
        },
      },
      targets: [new targets.SqsQueue(this.arrivals, delivery)],
    });
    const sweepRole = new iam.Role(this, 'SweepRole', {
      roleName: `drivetrain-${env}-ingest-sweep`,
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Drivetrain raw sweep schedule: starts the ingest workflow',
    });
    new iam.ManagedPolicy(this, 'SweepPolicy', {
      description: `drivetrain-${env}-ingest-sweep: start the ingest workflow`,
      roles: [sweepRole],
      statements: [
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
      ],
    });
    this.sweepRule = new events.Rule(this, 'Sweep', {
      ruleName: `drivetrain-${env}-raw-sweep`,
      description: 'Sweeps the raw prefix for uploads whose events were lost',
      schedule: events.Schedule.rate(Duration.hours(config.sweepEveryHours)),
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({ sweep: {} }),
          role: sweepRole.withoutPolicyUpdates(),
          ...delivery,
        }),
      ],
    });
    // EventBridge writes to the KMS-encrypted queues through the key.
    key.grant(new iam.ServicePrincipal('events.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');

    const pipeRole = new iam.Role(this, 'PipeRole', {
      roleName: `drivetrain-${env}-ingest-pipe`,
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Drivetrain ingest arrivals pipe: SQS batches to the ingest workflow',
    });
    const pipeLogs = new logs.LogGroup(this, 'PipeLogs', {
      logGroupName: `/drivetrain/${env}/ingest-pipe`,
      encryptionKey: key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const pipePolicy = new iam.ManagedPolicy(this, 'PipePolicy', {
      description: `drivetrain-${env}-ingest-pipe: read arrivals, start the ingest workflow`,
      roles: [pipeRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
          resources: [this.arrivals.queueArn],
        }),
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.amazonaws.com` } },
        }),
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachineArn] }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [pipeLogs.logGroupArn],
        }),
      ],
    });
    this.pipe = new pipes.CfnPipe(this, 'ArrivalsPipe', {
      name: `drivetrain-${env}-ingest-arrivals`,
      description: 'Batches of raw Object Created events start one ingest execution each',
      roleArn: pipeRole.roleArn,
      source: this.arrivals.queueArn,
      sourceParameters: {
        sqsQueueParameters: {
          batchSize: config.maxObjectsPerRun,
          maximumBatchingWindowInSeconds: config.eventBatchWindowSeconds,
        },
      },
      target: this.stateMachine.stateMachineArn,
      targetParameters: { stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' } },
      logConfiguration: {
        level: 'ERROR',
        cloudwatchLogsLogDestination: { logGroupArn: pipeLogs.logGroupArn },
      },
    });
    this.pipe.node.addDependency(pipePolicy);
  }
}
