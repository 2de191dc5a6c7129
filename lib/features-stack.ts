import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { REGISTRY } from '../features/catalog';
import { accessLogBucket, encryptedBucket } from './buckets';
import { encryptionKey } from './encryption-key';
import { FeatureAlarms } from './features/feature-alarms';
import { FeatureApi } from './features/feature-api';
import { FeatureCache } from './features/feature-cache';
import { type EtlTables, Materialization, tokenWildcard } from './features/materialization';
import { OnlineTable } from './features/online-table';
import { HandlerFunction, httpsEgressSecurityGroup } from './handler-function';
import { acknowledge } from './nag';

export interface FeaturesStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The functions and the cache run in this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
  /** The ETL tables materialization reads (the Data stack's database, curated bucket and key). */
  readonly etl?: EtlTables;
}

const SINGLE_REGION =
  'Drivetrain deploys one region per environment; versioning plus RETAIN protect the data, and every object here can be recomputed from the ETL tables.';

/**
 * The feature store on AWS: the online table (DynamoDB), the cache (ElastiCache Serverless
 * for Valkey), the feature bucket (Iceberg feature tables, online deltas, offline pushes), the
 * feature API (API Gateway + Lambda, IAM), and materialization (Glue + Step Functions on a
 * schedule and on every ETL run), with alarms. Shaped by the registry artifact.
 */
export class FeaturesStack extends Stack {
  public readonly key: kms.Key;
  public readonly online: OnlineTable;
  public readonly cache: FeatureCache;
  public readonly bucket: s3.Bucket;
  public readonly apiFunction: HandlerFunction;
  public readonly loader: HandlerFunction;
  public readonly api: FeatureApi;
  public readonly materialization: Materialization;
  public readonly alarms: FeatureAlarms;

  constructor(scope: Construct, id: string, props: FeaturesStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const env = config.name;
    const features = config.features;
    const retain = config.removalPolicy === 'retain';
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = encryptionKey(this, 'Key', {
      description: `Drivetrain ${env} feature store: online table, cache, bucket, logs, workflow`,
      removalPolicy,
      services: ['events.amazonaws.com', 'cloudwatch.amazonaws.com', 'states.amazonaws.com'],
    });

    this.online = new OnlineTable(this, 'OnlineTable', {
      tableName: `drivetrain-${env}-features`,
      key: this.key,
      removalPolicy,
      deletionProtection: retain,
    });
    this.cache = new FeatureCache(this, 'Cache', { env, vpc, key: this.key, config: features.cache });

    const accessLogs = accessLogBucket(this, 'AccessLogs', {
      removalPolicy,
      singleRegionReason: SINGLE_REGION,
    });
    this.bucket = encryptedBucket(this, 'Bucket', {
      bucketName: `drivetrain-${env}-features-${config.account}`,
      key: this.key,
      accessLogs,
      accessLogsPrefix: 'features/',
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(30) },
        // Online deltas and run plans matter only until the run that wrote them is loaded.
        { prefix: 'online/', expiration: Duration.days(14) },
        { prefix: 'runs/', expiration: Duration.days(30) },
      ],
      removalPolicy,
      singleRegionReason: SINGLE_REGION,
    });

    const functionGroup = (groupId: string, description: string) => {
      const group = httpsEgressSecurityGroup(this, groupId, {
        vpc,
        description,
        egressDescription: 'HTTPS to AWS APIs (DynamoDB, S3, STS)',
      });
      this.cache.allowFrom(group);
      return group;
    };
    const common = { vpc, key: this.key, removalPolicy };
    const environment = {
      DRIVETRAIN_ENV: env,
      [`DRIVETRAIN_${env.toUpperCase()}_ACCOUNT`]: config.account,
      FEATURE_TABLE_NAME: this.online.table.tableName,
      CACHE_ENDPOINT: this.cache.endpointAddress,
      CACHE_PORT: this.cache.endpointPort,
      CACHE_NAME: this.cache.cacheName,
      CACHE_USER_ID: this.cache.userId,
      FEATURE_BUCKET: this.bucket.bucketName,
      REGISTRY_HASH: REGISTRY.hash,
    };
    const storeStatements = [...this.online.statements(this.key), this.cache.connectStatement()];
    const apiServiceName = `drivetrain-${env}-feature-api`;
    this.apiFunction = new HandlerFunction(this, 'ApiFunction', {
      ...common,
      handler: 'features/api',
      serviceName: apiServiceName,
      description:
        'Drivetrain feature API: Feast-compatible online reads and pushes (behind API Gateway, SigV4)',
      securityGroup: functionGroup(
        'ApiSecurityGroup',
        'Drivetrain feature API Lambda: HTTPS to AWS APIs, Valkey to the cache',
      ),
      timeout: Duration.seconds(10),
      memorySize: features.api.memoryMiB,
      environment,
      statements: [
        ...storeStatements,
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [this.bucket.arnForObjects('push/*')],
        }),
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.key.keyArn] }),
      ],
    });
    acknowledge(this.apiFunction.policy, {
      [tokenWildcard(this.bucket, '/push/*')]:
        'Offline pushes are named by the API at arrival time (push/<view>/<time>-<uuid>.json); writes stay under push/.',
    });
    acknowledge(this.apiFunction.function, {
      'NIST.800.53.R5-LambdaConcurrency': `API Gateway stage throttling (${features.api.rateLimit}/s, burst ${features.api.burstLimit}) and the per-IP WAF rule are the admission control; a reservation below the burst would turn admitted reads into throttles.`,
      'NIST.800.53.R5-LambdaDLQ':
        'API Gateway invokes this function synchronously: the caller gets the error, nothing is queued.',
    });

    this.loader = new HandlerFunction(this, 'Loader', {
      ...common,
      handler: 'features/load',
      serviceName: `drivetrain-${env}-feature-loader`,
      description: 'Drivetrain feature loader: streams materialized deltas into DynamoDB and the cache',
      securityGroup: functionGroup(
        'LoaderSecurityGroup',
        'Drivetrain feature loader Lambda: HTTPS to AWS APIs, Valkey to the cache',
      ),
      timeout: Duration.minutes(15),
      memorySize: 1_024,
      environment,
      statements: [
        ...storeStatements,
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: [this.bucket.arnForObjects('online/*'), this.bucket.arnForObjects('runs/*')],
        }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.key.keyArn] }),
      ],
    });
    acknowledge(this.loader.policy, {
      [tokenWildcard(this.bucket, '/online/*')]:
        'Delta objects are named by each Spark run (online/<view>/<version>/<sequence>/part-*.json); reads stay under online/.',
      [tokenWildcard(this.bucket, '/runs/*')]:
        'Each run writes its plan to runs/<run id>/online-plan.json; reads stay under runs/.',
    });
    acknowledge(this.loader.function, {
      'NIST.800.53.R5-LambdaConcurrency':
        'Only the materialization workflow invokes the loader, at most 8 at a time (its Map concurrency); a reservation would take capacity from the account for nothing.',
      'NIST.800.53.R5-LambdaDLQ':
        'Step Functions invokes the loader synchronously and retries it; a failure fails the run, which the MaterializationFailed alarm reports.',
    });

    this.api = new FeatureApi(this, 'Api', {
      env,
      handler: this.apiFunction.function,
      key: this.key,
      rateLimit: features.api.rateLimit,
      burstLimit: features.api.burstLimit,
      logRetention: logs.RetentionDays.ONE_YEAR,
      removalPolicy,
    });

    const triggerDeadLetters = new sqs.Queue(this, 'TriggerDeadLetters', {
      queueName: `drivetrain-${env}-materialize-trigger-dlq`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(triggerDeadLetters, {
      'AwsSolutions-SQS3':
        "This queue is itself the dead-letter queue of the materialization rules' targets.",
    });
    this.materialization = new Materialization(this, 'Materialization', {
      env,
      config: features.materialization,
      bucket: this.bucket,
      key: this.key,
      etlDatabase: props.etl?.databaseName ?? features.etlDatabase ?? `drivetrain_${env}`,
      etl: props.etl,
      featureDatabase: `drivetrain_${env}_features`,
      loader: this.loader.function,
      deadLetterQueue: triggerDeadLetters,
      removalPolicy,
    });

    this.alarms = new FeatureAlarms(this, 'Alarms', {
      env,
      api: this.apiFunction.function,
      restApi: this.api.api,
      apiServiceName,
      stateMachine: this.materialization.stateMachine,
      deadLetterQueue: triggerDeadLetters,
      key: this.key,
      thresholds: features.alarms,
    });

    new CfnOutput(this, 'FeatureApiUrl', {
      value: this.api.api.url,
      description: 'Base URL of the feature API (SigV4)',
    });
    new CfnOutput(this, 'OnlineTableName', { value: this.online.table.tableName });
    new CfnOutput(this, 'FeatureBucketName', { value: this.bucket.bucketName });
  }
}
