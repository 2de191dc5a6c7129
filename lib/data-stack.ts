import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { DataAlarms } from './data/data-alarms';
import { DataBuckets } from './data/data-buckets';
import { IngestJobs, type IngestScripts } from './data/ingest-jobs';
import { IngestWorkflow } from './data/ingest-workflow';
import { RunTable } from './data/run-table';
import { encryptionKey } from './encryption-key';

const SPARK_DIR = join(import.meta.dirname, '..', 'spark');

/** Glue 5.1 ships these itself; the job's other runtime dependencies are installed per run. */
const GLUE_PROVIDED = new Set(['pyspark', 'pyarrow', 'pandas', 'numpy']);

/**
 * The job's runtime packages at the versions the project pins (spark/requirements.lock), for
 * every dependency spark/pyproject.toml declares.
 */
export function ingestPythonModules(sparkDir = SPARK_DIR): string[] {
  const pyproject = readFileSync(join(sparkDir, 'pyproject.toml'), 'utf8');
  const declared = /^dependencies\s*=\s*\[([^\]]*)\]/m.exec(pyproject)?.[1] ?? '';
  const names = [...declared.matchAll(/"([A-Za-z0-9_.-]+)/g)].map((m) => m[1]!.toLowerCase());
  const pinned = new Map(
    readFileSync(join(sparkDir, 'requirements.lock'), 'utf8')
      .split('\n')
      .map((line) => /^([A-Za-z0-9_.-]+)==(\S+)/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!.toLowerCase(), `${m[1]}==${m[2]}`]),
  );
  return names
    .filter((name) => !GLUE_PROVIDED.has(name))
    .map((name) => {
      const pin = pinned.get(name);
      if (!pin) throw new Error(`spark/requirements.lock pins no version of ${name}`);
      return pin;
    });
}

/** The ingest job the Spark package provides. */
export const INGEST_SCRIPTS = (): IngestScripts => ({
  glueScript: join(SPARK_DIR, 'glue', 'ingest.py'),
  emrEntryPoint: join(SPARK_DIR, 'drivetrain_spark', 'jobs', 'ingest.py'),
  packageDir: join(SPARK_DIR, 'drivetrain_spark'),
  pythonModules: ingestPythonModules(),
});

export interface DataStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** EMR Serverless runs in this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
  /** @default INGEST_SCRIPTS() */
  readonly scripts?: IngestScripts;
}

/**
 * The sensor-ETL pillar on AWS: raw, curated and quarantine buckets, the Glue database the
 * Iceberg tables are registered in, the ingest job on Glue and on EMR Serverless, the run
 * table, the ingest workflow with its triggers, and alarms to one encrypted topic.
 */
export class DataStack extends Stack {
  public readonly key: kms.Key;
  public readonly buckets: DataBuckets;
  public readonly database: glue.Database;
  /** The database's name as a literal, so other stacks' ARNs and policies read plainly. */
  public readonly databaseName: string;
  public readonly runTable: RunTable;
  public readonly topic: sns.Topic;
  public readonly jobs: IngestJobs;
  public readonly workflow: IngestWorkflow;
  public readonly alarms: DataAlarms;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { data } = config;
    const env = config.name;
    const retain = config.removalPolicy === 'retain';
    const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = data.logRetentionDays as logs.RetentionDays;

    this.key = encryptionKey(this, 'Key', {
      description: `Drivetrain ${env} sensor data: buckets, run table, logs, queues, notifications`,
      removalPolicy,
      services: ['cloudwatch.amazonaws.com'],
    });

    this.buckets = new DataBuckets(this, 'Buckets', {
      namePrefix: `drivetrain-${env}`,
      key: this.key,
      config: data,
      removalPolicy,
    });
    const databaseName = `drivetrain_${env}`;
    this.databaseName = databaseName;
    this.database = new glue.Database(this, 'Database', {
      databaseName,
      description: `Drivetrain ${env} sensor tables (Apache Iceberg)`,
      locationUri: this.buckets.curated.s3UrlForObject('warehouse/'),
    });
    this.runTable = new RunTable(this, 'RunTable', {
      tableName: `drivetrain-${env}-etl-runs`,
      key: this.key,
      removalPolicy,
      deletionProtection: retain,
    });
    this.topic = new sns.Topic(this, 'Notifications', {
      topicName: `drivetrain-${env}-etl-notifications`,
      displayName: `Drivetrain ${env} ingest failures and alarms`,
      masterKey: this.key,
      enforceSSL: true,
    });

    this.jobs = new IngestJobs(this, 'IngestJobs', {
      env,
      config: data,
      buckets: this.buckets,
      key: this.key,
      databaseName,
      scripts: props.scripts ?? INGEST_SCRIPTS(),
      vpc: props.vpc,
      logRetention,
      removalPolicy,
    });
    this.workflow = new IngestWorkflow(this, 'IngestWorkflow', {
      env,
      config: data,
      buckets: this.buckets,
      runTable: this.runTable,
      jobs: this.jobs,
      databaseName,
      failureTopic: this.topic,
      key: this.key,
      logRetention,
      removalPolicy,
    });
    this.alarms = new DataAlarms(this, 'Alarms', {
      env,
      stateMachine: this.workflow.stateMachine,
      arrivals: this.workflow.arrivals,
      deadLetters: this.workflow.deadLetters,
      maxArrivalAge: Duration.seconds(data.eventBatchWindowSeconds + 900),
      topic: this.topic,
    });

    new CfnOutput(this, 'RawBucketName', { value: this.buckets.raw.bucketName });
    new CfnOutput(this, 'CuratedBucketName', { value: this.buckets.curated.bucketName });
    new CfnOutput(this, 'IngestStateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RunTableName', { value: this.runTable.table.tableName });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.topic.topicArn });
  }
}
