import { join } from 'node:path';
import { Aws, type CfnElement, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import type { FeatureStoreConfig } from '../../config/features';
import { REGISTRY_PATH } from '../../features/definitions/registry';
import { INGEST_SUCCEEDED_EVENT } from '../../step-functions/ingest';
import { CATALOG_NAME, icebergSparkConf } from '../data/ingest-jobs';
import { glueJobLogsStatement, glueLogGroupsArn } from '../glue-job-logs';
import { acknowledge, acknowledgeWildcards } from '../nag';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The id cdk-nag gives a wildcard finding on a token ARN (`<Logical.Arn>/suffix`), for
 * resources whose ARN is an attribute, such as a bucket or function of this stack.
 */
export function tokenWildcard(resource: IConstruct, suffix: string): string {
  const child = resource.node.defaultChild as CfnElement;
  return `AwsSolutions-IAM5[Resource::<${Stack.of(child).getLogicalId(child)}.Arn>${suffix}]`;
}

/** Where the ETL pillar's Iceberg tables live, for the job to read them (Drivetrain-<env>-Data). */
export interface EtlTables {
  readonly databaseName: string;
  /**
   * The curated bucket holding the warehouse (a literal name: it lives in another stack), and
   * the key it is encrypted with.
   */
  readonly bucketName: string;
  readonly key: kms.IKey;
}

/** ARN of a bucket of another stack, from its literal name. */
function bucketArnOf(name: string): string {
  return `arn:${Aws.PARTITION}:s3:::${name}`;
}

export interface MaterializationProps {
  readonly env: string;
  readonly config: FeatureStoreConfig['materialization'];
  readonly bucket: s3.IBucket;
  readonly key: kms.IKey;
  /** Glue database of the ETL tables the transforms read; feature tables go to `featureDatabase`. */
  readonly etlDatabase: string;
  /** The ETL warehouse to read; without it the job may read only the catalog entries. */
  readonly etl?: EtlTables;
  readonly featureDatabase: string;
  /** lambdas/features/load/handler.ts. */
  readonly loader: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Materialization on AWS: a Glue 5.1 PySpark job (spark/glue/materialize_features.py over the
 * drivetrain_spark package and the registry artifact) computes the feature tables and the
 * online deltas, skipping views whose inputs and version are unchanged; then the loader
 * Lambda streams each delta object into DynamoDB and the cache, and the watermarks advance.
 * Started by a schedule and by each ETL run's completion event.
 */
export class Materialization extends Construct {
  public readonly job: glue.PySparkEtlJob;
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: MaterializationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { env, bucket, key } = props;

    const security = new glue.SecurityConfiguration(this, 'Security', {
      securityConfigurationName: `drivetrain-${env}-features`,
      s3Encryption: glue.S3Encryption.kms(key),
      cloudWatchEncryption: glue.CloudWatchEncryption.kms(key),
      jobBookmarksEncryption: glue.JobBookmarksEncryption.clientSideKms(key),
    });
    const role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Drivetrain ${env} feature materialization (Glue)`,
    });
    const catalogArn = (resource: string, name?: string) =>
      stack.formatArn({ service: 'glue', resource, resourceName: name });
    const policy = new iam.ManagedPolicy(this, 'JobPolicy', {
      description: `drivetrain-${env}-materialize: read ETL tables, write feature tables and deltas`,
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
          resources: [
            catalogArn('catalog'),
            catalogArn('database', props.etlDatabase),
            catalogArn('table', `${props.etlDatabase}/*`),
          ],
        }),
        new iam.PolicyStatement({
          actions: [
            'glue:GetDatabase',
            'glue:CreateDatabase',
            'glue:GetTable',
            'glue:GetTables',
            'glue:CreateTable',
            'glue:UpdateTable',
          ],
          resources: [
            catalogArn('catalog'),
            catalogArn('database', props.featureDatabase),
            catalogArn('table', `${props.featureDatabase}/*`),
          ],
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [bucket.arnForObjects('*')],
        }),
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
        ...(props.etl
          ? [
              new iam.PolicyStatement({
                actions: ['s3:GetObject'],
                resources: [`${bucketArnOf(props.etl.bucketName)}/warehouse/*`],
              }),
              new iam.PolicyStatement({
                actions: ['s3:ListBucket'],
                resources: [bucketArnOf(props.etl.bucketName)],
              }),
              new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [props.etl.key.keyArn] }),
            ]
          : []),
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt'],
          resources: [key.keyArn],
        }),
        glueJobLogsStatement(stack),
      ],
    });
    acknowledge(policy, {
      [tokenWildcard(bucket, '/*')]:
        "The bucket is the feature store's own: Iceberg data and metadata, deltas, run plans and push objects.",
      ...(props.etl
        ? {
            // cdk-nag prints the partition pseudo-parameter this way.
            [`AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${props.etl.bucketName}/warehouse/*]`]:
              'Reads of the ETL Iceberg warehouse, whose data and metadata files Iceberg names per commit; read only, under warehouse/.',
          }
        : {}),
    });
    acknowledgeWildcards(stack, policy, {
      [catalogArn('table', `${props.etlDatabase}/*`)]:
        'The ETL pillar adds tables as new message types arrive; reads stay inside its database.',
      [catalogArn('table', `${props.featureDatabase}/*`)]:
        'One Iceberg table per feature view, created as views are defined; writes stay inside the feature database.',
      [glueLogGroupsArn(stack)]:
        'Glue writes job logs to log groups it names under /aws-glue/ (encrypted by the security configuration).',
    });

    const registry = glue.Code.fromAsset(join(ROOT, REGISTRY_PATH));
    // The drivetrain_spark package as a zip with the package at its root, as --extra-py-files wants.
    const sparkPackage = new s3assets.Asset(this, 'SparkPackage', {
      path: join(ROOT, 'spark'),
      exclude: [
        'tests',
        'glue',
        '**/__pycache__',
        '*.egg-info',
        'pyproject.toml',
        'requirements.lock',
        '.pytest_cache',
        '.ruff_cache',
      ],
    });
    sparkPackage.grantRead(role);
    this.job = new glue.PySparkEtlJob(this, 'Job', {
      jobName: `drivetrain-${env}-materialize-features`,
      description: 'Feature materialization: Iceberg feature tables and online deltas from the ETL tables',
      role,
      glueVersion: glue.GlueVersion.V5_1,
      workerConfiguration: { workerType: glue.WorkerType.G_1X, numberOfWorkers: props.config.glueWorkers },
      timeout: Duration.minutes(props.config.timeoutMinutes),
      securityConfiguration: security,
      script: glue.Code.fromAsset(join(ROOT, 'spark', 'glue', 'materialize_features.py')),
      extraPythonFiles: [glue.Code.fromBucket(sparkPackage.bucket, sparkPackage.s3ObjectKey)],
      extraFiles: [registry],
      continuousLogging: { enabled: true },
      defaultArguments: {
        '--datalake-formats': 'iceberg',
        // The Iceberg SQL extensions (changelog views, bucket function) must load at session start.
        '--conf': icebergSparkConf(bucket.s3UrlForObject('warehouse/')).join(' --conf '),
        '--warehouse': bucket.s3UrlForObject('warehouse/'),
        '--bucket': bucket.bucketName,
        '--catalog_name': CATALOG_NAME,
        '--etl_database': props.etlDatabase,
        '--feature_database': props.featureDatabase,
      },
    });
    // The job may start only once its role holds the grants.
    this.job.node.addDependency(policy);

    const runId = sfn.JsonPath.stringAt('$$.Execution.Name');
    const materialize = new tasks.GlueStartJobRun(this, 'Materialize', {
      glueJobName: this.job.jobName,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      arguments: sfn.TaskInput.fromObject({ '--run_id': runId }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    materialize.addRetry({
      errors: ['Glue.ConcurrentRunsExceededException'],
      interval: Duration.minutes(2),
      maxAttempts: 5,
      backoffRate: 2,
    });
    const invoke = (name: string, payload: sfn.TaskInput) => {
      const task = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: props.loader,
        payload,
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
      task.addRetry({
        errors: ['States.TaskFailed'],
        interval: Duration.seconds(5),
        maxAttempts: 3,
        backoffRate: 2,
      });
      return task;
    };
    const plan = invoke(
      'Plan',
      sfn.TaskInput.fromObject({
        action: 'plan',
        bucket: bucket.bucketName,
        key: sfn.JsonPath.format('runs/{}/online-plan.json', runId),
      }),
    );
    const loads = new sfn.Map(this, 'LoadDeltas', {
      itemsPath: '$.loads',
      maxConcurrency: 8,
      resultPath: sfn.JsonPath.DISCARD,
    });
    loads.itemProcessor(invoke('LoadDelta', sfn.TaskInput.fromJsonPathAt('$')));
    const commits = new sfn.Map(this, 'AdvanceWatermarks', { itemsPath: '$.commits', maxConcurrency: 8 });
    commits.itemProcessor(invoke('AdvanceWatermark', sfn.TaskInput.fromJsonPathAt('$')));

    const stateLogs = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/drivetrain/${env}/materialize-features`,
      encryptionKey: key,
      retention: logs.RetentionDays.SIX_MONTHS,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `drivetrain-${env}-materialize-features`,
      definitionBody: sfn.DefinitionBody.fromChainable(materialize.next(plan).next(loads).next(commits)),
      tracingEnabled: true,
      logs: { destination: stateLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key),
      timeout: Duration.minutes(props.config.timeoutMinutes + 60),
    });

    const target = new targets.SfnStateMachine(this.stateMachine, {
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 3,
    });
    new events.Rule(this, 'Schedule', {
      ruleName: `drivetrain-${env}-materialize-features-schedule`,
      description: 'Periodic feature materialization (a run with no new input snapshots does no Spark work)',
      schedule: events.Schedule.expression(props.config.schedule),
      targets: [target],
    });
    new events.Rule(this, 'OnEtlRun', {
      ruleName: `drivetrain-${env}-materialize-features-on-etl`,
      description: 'Materialize features when an ETL run commits new table snapshots',
      eventPattern: {
        source: [INGEST_SUCCEEDED_EVENT.source],
        detailType: [INGEST_SUCCEEDED_EVENT.detailType],
      },
      targets: [target],
    });

    const assetRead =
      "CDK's grant for reading the job's script, modules and registry from the CDK bootstrap asset bucket (s3:GetObject*, GetBucket*, List* on it); the asset keys are content hashes known only at synthesis.";
    acknowledge(role, {
      'NIST.800.53.R5-IAMNoInlinePolicy':
        "Holds only CDK's grant for reading the job's own assets; Drivetrain's grants are in the managed policy beside it.",
      'AwsSolutions-IAM5[Action::s3:GetBucket*]': assetRead,
      'AwsSolutions-IAM5[Action::s3:GetObject*]': assetRead,
      'AwsSolutions-IAM5[Action::s3:List*]': assetRead,
      [`AwsSolutions-IAM5[Resource::arn:aws:s3:::cdk-hnb659fds-assets-${stack.account}-${stack.region}/*]`]:
        assetRead,
    });
    acknowledge(this.stateMachine, {
      [tokenWildcard(props.loader, ':*')]:
        'Step Functions invokes the loader by qualified ARN (<function>:<version>); the grant CDK writes covers the versions of this one function.',
      'AwsSolutions-IAM5[Resource::*]':
        'X-Ray segment upload (tracing) and CloudWatch Logs delivery management for the state machine log group have no resource-level permissions.',
      'NIST.800.53.R5-IAMNoInlinePolicy':
        'The state machine role holds only the task-integration grants CDK derives from its states (this job, this loader, its log group and key).',
    });
  }
}
