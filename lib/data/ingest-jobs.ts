import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as emrserverless from 'aws-cdk-lib/aws-emrserverless';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import type { DataConfig } from '../../config/data';
import { RAW_PREFIX, RUN_PREFIXES } from '../../step-functions/ingest';
import { glueJobLogsStatement, glueLogGroupsArn } from '../glue-job-logs';
import { acknowledgeWildcards } from '../nag';
import type { DataBuckets } from './data-buckets';

/** Spark 3.5.6, as Glue 5.1 runs it. */
export const EMR_RELEASE_LABEL = 'emr-7.12.0';
export const CATALOG_NAME = 'glue_catalog';
/** The Iceberg warehouse, in the curated bucket. */
export const WAREHOUSE_PREFIX = 'warehouse/';
/** Files the job config refers to (a vehicle's DBC), read-only to the job, in the curated bucket. */
export const REFERENCE_PREFIX = 'reference/';

export interface IngestScripts {
  /** Glue's script: reads Glue's job arguments and calls the job's main. */
  readonly glueScript: string;
  /** EMR Serverless's entryPoint: the job module itself. */
  readonly emrEntryPoint: string;
  /** The `drivetrain_spark` package directory, shipped as a zip of Python files. */
  readonly packageDir: string;
  /** Runtime Python packages (`name==version`) Glue installs with --additional-python-modules. */
  readonly pythonModules: readonly string[];
}

export interface IngestJobsProps {
  readonly env: string;
  readonly config: DataConfig;
  readonly buckets: DataBuckets;
  readonly key: kms.IKey;
  /** Glue Data Catalog database the tables are registered in. */
  readonly databaseName: string;
  readonly scripts: IngestScripts;
  /** EMR Serverless workers run in these subnets. */
  readonly vpc: ec2.IVpc;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Iceberg over the Glue Data Catalog with S3FileIO, as both Glue and EMR Serverless take it. */
export function icebergSparkConf(warehouse: string): string[] {
  const catalog = `spark.sql.catalog.${CATALOG_NAME}`;
  return [
    'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    `${catalog}=org.apache.iceberg.spark.SparkCatalog`,
    `${catalog}.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog`,
    `${catalog}.io-impl=org.apache.iceberg.aws.s3.S3FileIO`,
    `${catalog}.warehouse=${warehouse}`,
  ];
}

/**
 * The ingest Spark job twice over: a Glue 5.1 PySpark job for routine runs and an EMR
 * Serverless application (EMR 7.12, the same Spark) for large backfills, each with a role
 * that reads raw, writes curated and quarantine, and registers tables in one database.
 */
export class IngestJobs extends Construct {
  public readonly glueJob: glue.PySparkEtlJob;
  public readonly glueRole: iam.Role;
  public readonly emrApplication: emrserverless.CfnApplication;
  public readonly emrJobRole: iam.Role;
  public readonly emrLogs: logs.LogGroup;
  public readonly glueLogs: logs.LogGroup;
  /** The entry point's S3 URI (EMR Serverless's entryPoint). */
  public readonly entryPointUri: string;
  public readonly warehouseUri: string;
  /** `--conf` pairs for EMR Serverless's sparkSubmitParameters. */
  public readonly emrSparkSubmitParameters: string;

  constructor(scope: Construct, id: string, props: IngestJobsProps) {
    super(scope, id);
    const { env, config, buckets, key, databaseName, removalPolicy } = props;
    const stack = Stack.of(this);
    this.warehouseUri = buckets.uri(buckets.curated, WAREHOUSE_PREFIX);

    const glueScript = new s3assets.Asset(this, 'GlueScript', { path: props.scripts.glueScript });
    const entryPoint = new s3assets.Asset(this, 'EmrEntryPoint', { path: props.scripts.emrEntryPoint });
    // The zip holds drivetrain_spark/ at its root, as --extra-py-files and --py-files expect.
    const sparkPackage = new s3assets.Asset(this, 'SparkPackage', {
      path: props.scripts.packageDir,
      exclude: ['**/__pycache__', '**/*.pyc'],
    });
    this.entryPointUri = entryPoint.s3ObjectUrl;

    const catalogArn = (resource: string, resourceName?: string) =>
      stack.formatArn({ service: 'glue', resource, resourceName });
    const tablesArn = catalogArn('table', `${databaseName}/*`);
    const dataStatements = [
      ...buckets.access(buckets.raw, RAW_PREFIX, 'read'),
      ...buckets.access(buckets.curated, WAREHOUSE_PREFIX, 'read-write'),
      // The inputs list the workflow wrote, and the manifest the job writes.
      ...buckets.access(buckets.curated, RUN_PREFIXES.runs, 'read-write'),
      ...buckets.access(buckets.quarantine, RUN_PREFIXES.quarantined, 'write'),
      // Reference files the job config names, such as a vehicle's DBC.
      ...buckets.access(buckets.curated, REFERENCE_PREFIX, 'read'),
      new iam.PolicyStatement({
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:GetTables',
          'glue:CreateTable',
          'glue:UpdateTable',
          'glue:DeleteTable',
        ],
        resources: [catalogArn('catalog'), catalogArn('database', databaseName), tablesArn],
      }),
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [glueScript, entryPoint, sparkPackage].map((asset) =>
          asset.bucket.arnForObjects(asset.s3ObjectKey),
        ),
      }),
    ];
    const wildcardReasons = {
      [buckets.objectsArn(buckets.raw, `${RAW_PREFIX}*`)]:
        'Reads any raw upload: the inputs of a run are only known at run time.',
      [buckets.objectsArn(buckets.curated, `${WAREHOUSE_PREFIX}*`)]:
        'Iceberg writes data and metadata files with generated names under the warehouse prefix.',
      [buckets.objectsArn(buckets.curated, `${RUN_PREFIXES.runs}*`)]:
        "Each run's inputs list and manifest live under its run id.",
      [buckets.objectsArn(buckets.curated, `${REFERENCE_PREFIX}*`)]:
        'Reads the reference files (DBCs) operators place under reference/; their names are configuration.',
      [buckets.objectsArn(buckets.quarantine, `${RUN_PREFIXES.quarantined}*`)]:
        'Corrupt inputs are quarantined under the run id with generated names.',
      [tablesArn]:
        'The job creates one table per message type in its own database; names come from the data.',
    };

    // Glue: the GA L2 job, with its grants made explicit in customer-managed policies.
    this.glueRole = new iam.Role(this, 'GlueRole', {
      roleName: `drivetrain-${env}-ingest-glue`,
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: 'Drivetrain ingest job on Glue: reads raw, writes curated and quarantine',
    });
    this.glueLogs = new logs.LogGroup(this, 'GlueLogs', {
      logGroupName: `/aws-glue/drivetrain-${env}-ingest`,
      encryptionKey: key,
      retention: props.logRetention,
      removalPolicy,
    });
    const glueLogGroups = glueLogGroupsArn(stack);
    const gluePolicy = new iam.ManagedPolicy(this, 'GluePolicy', {
      description: `drivetrain-${env}-ingest on Glue: raw to curated and quarantine`,
      roles: [this.glueRole],
      statements: [
        ...dataStatements,
        glueJobLogsStatement(stack),
        new iam.PolicyStatement({
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `logs.${stack.region}.amazonaws.com` } },
        }),
        new iam.PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
        }),
      ],
    });
    acknowledgeWildcards(stack, gluePolicy, {
      ...wildcardReasons,
      [glueLogGroups]: 'Glue creates the job run log groups and streams under /aws-glue/ at run time.',
      '*': 'cloudwatch:PutMetricData has no resource-level permissions; the condition limits it to the Glue namespace.',
    });
    const securityConfiguration = new glue.SecurityConfiguration(this, 'GlueSecurity', {
      securityConfigurationName: `drivetrain-${env}-ingest`,
      s3Encryption: glue.S3Encryption.kms(key),
      cloudWatchEncryption: glue.CloudWatchEncryption.kms(key),
      jobBookmarksEncryption: glue.JobBookmarksEncryption.clientSideKms(key),
    });
    const { glue: glueConfig } = config;
    // Grants the construct would add go nowhere: the policy above says exactly what the job may do.
    const fixedRole = this.glueRole.withoutPolicyUpdates();
    this.glueJob = new glue.PySparkEtlJob(this, 'GlueJob', {
      jobName: `drivetrain-${env}-ingest`,
      description: 'Drivetrain sensor ingest: raw logs to Iceberg tables',
      role: fixedRole,
      script: glue.Code.fromBucket(glueScript.bucket, glueScript.s3ObjectKey),
      extraPythonFiles: [glue.Code.fromBucket(sparkPackage.bucket, sparkPackage.s3ObjectKey)],
      glueVersion: glue.GlueVersion.V5_1,
      workerConfiguration: {
        workerType: glueWorkerType(glueConfig.workerType),
        numberOfWorkers: glueConfig.workers,
      },
      timeout: Duration.minutes(glueConfig.timeoutMinutes),
      maxConcurrentRuns: glueConfig.maxConcurrentRuns,
      // Step Functions retries, with backoff and jitter.
      maxRetries: 0,
      securityConfiguration,
      continuousLogging: { enabled: true, logGroup: this.glueLogs },
      defaultArguments: {
        '--datalake-formats': 'iceberg',
        // Glue takes several Spark settings as one --conf value joined by ' --conf '.
        '--conf': icebergSparkConf(this.warehouseUri).join(' --conf '),
        // The Glue wrapper reads its arguments with underscores (spark/glue/ingest.py).
        '--warehouse': this.warehouseUri,
        '--catalog_name': CATALOG_NAME,
        '--database': databaseName,
        '--config': JSON.stringify(config.job),
        '--additional-python-modules': props.scripts.pythonModules.join(','),
        '--job-bookmark-option': 'job-bookmark-disable',
      },
    });

    // EMR Serverless: the same script and package, Iceberg from the release's own jar.
    this.emrLogs = new logs.LogGroup(this, 'EmrLogs', {
      logGroupName: `/drivetrain/${env}/emr-serverless`,
      encryptionKey: key,
      retention: props.logRetention,
      removalPolicy,
    });
    const securityGroup = new ec2.SecurityGroup(this, 'EmrSecurityGroup', {
      vpc: props.vpc,
      description: 'Drivetrain ingest on EMR Serverless: HTTPS out to S3, Glue and CloudWatch',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');
    const { emr } = config;
    this.emrApplication = new emrserverless.CfnApplication(this, 'EmrApplication', {
      name: `drivetrain-${env}-ingest`,
      releaseLabel: EMR_RELEASE_LABEL,
      type: 'SPARK',
      architecture: 'X86_64',
      maximumCapacity: {
        cpu: `${emr.maxVcpus} vCPU`,
        memory: `${emr.maxMemoryGiB} GB`,
        disk: `${emr.maxDiskGiB} GB`,
      },
      autoStartConfiguration: { enabled: true },
      autoStopConfiguration: { enabled: true, idleTimeoutMinutes: emr.idleTimeoutMinutes },
      networkConfiguration: {
        subnetIds: props.vpc.privateSubnets.map((subnet) => subnet.subnetId),
        securityGroupIds: [securityGroup.securityGroupId],
      },
      monitoringConfiguration: {
        cloudWatchLoggingConfiguration: {
          enabled: true,
          logGroupName: this.emrLogs.logGroupName,
          encryptionKeyArn: key.keyArn,
        },
      },
    });
    this.emrJobRole = new iam.Role(this, 'EmrJobRole', {
      roleName: `drivetrain-${env}-ingest-emr`,
      assumedBy: new iam.ServicePrincipal('emr-serverless.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': this.emrApplication.attrArn },
        },
      }),
      description: 'Drivetrain ingest job runs on EMR Serverless: reads raw, writes curated and quarantine',
    });
    const emrLogArn = (resourceName: string) =>
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const emrLogGroup = emrLogArn(`/drivetrain/${env}/emr-serverless`);
    const emrLogStreams = emrLogArn(`/drivetrain/${env}/emr-serverless:log-stream:*`);
    const emrPolicy = new iam.ManagedPolicy(this, 'EmrJobPolicy', {
      description: `drivetrain-${env}-ingest on EMR Serverless: raw to curated and quarantine`,
      roles: [this.emrJobRole],
      statements: [
        ...dataStatements,
        new iam.PolicyStatement({
          actions: ['logs:DescribeLogGroups', 'logs:DescribeLogStreams'],
          resources: [emrLogGroup],
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [emrLogGroup, emrLogStreams],
        }),
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `logs.${stack.region}.amazonaws.com` } },
        }),
      ],
    });
    acknowledgeWildcards(stack, emrPolicy, {
      ...wildcardReasons,
      [emrLogStreams]: 'EMR Serverless names a log stream per job run and worker inside this one log group.',
    });
    // The job's Python dependencies come as a packed virtualenv (README: EMR Serverless).
    const python = emr.pythonEnvironmentArchive
      ? [
          `spark.archives=${emr.pythonEnvironmentArchive}#environment`,
          'spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=./environment/bin/python',
          'spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python',
          'spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python',
        ]
      : [];
    this.emrSparkSubmitParameters = [
      'spark.jars=/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar',
      `spark.submit.pyFiles=${sparkPackage.s3ObjectUrl}`,
      ...python,
      ...icebergSparkConf(this.warehouseUri),
    ]
      .map((pair) => `--conf ${pair}`)
      .join(' ');
  }

  /** The Glue job's ARN, as Step Functions starts it. */
  public get glueJobArn(): string {
    return this.glueJob.jobArn;
  }
}

function glueWorkerType(name: DataConfig['glue']['workerType']): glue.WorkerType {
  const types: Record<DataConfig['glue']['workerType'], glue.WorkerType> = {
    'G.1X': glue.WorkerType.G_1X,
    'G.2X': glue.WorkerType.G_2X,
    'G.4X': glue.WorkerType.G_4X,
    'G.8X': glue.WorkerType.G_8X,
  };
  return types[name];
}
