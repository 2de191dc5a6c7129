import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dataSchema } from '../../config/data';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentName } from '../../config/schema';
import { EMR_RELEASE_LABEL } from '../../lib/data/ingest-jobs';
import { DataStack, ingestPythonModules } from '../../lib/data-stack';
import { securityRulePacks } from '../../lib/nag';
import { NetworkStack } from '../../lib/network-stack';
import { INGEST_DEFINITION_FILE, ingestPlaceholders, RAW_SUFFIXES } from '../../step-functions/ingest';

type Json = Record<string, unknown>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const repoRoot = join(import.meta.dirname, '..', '..');
const cdkContext = JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')).context;
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Scripts the job would run; the stack only ships them as assets. */
const scriptsDir = mkdtempSync(join(tmpdir(), 'drivetrain-data-stack-'));
const scripts = {
  glueScript: join(scriptsDir, 'glue-ingest.py'),
  emrEntryPoint: join(scriptsDir, 'drivetrain_spark', 'jobs', 'ingest.py'),
  packageDir: join(scriptsDir, 'drivetrain_spark'),
  pythonModules: ['mcap==1.6.0', 'rosbags==0.11.9'],
};
mkdirSync(join(scripts.packageDir, 'jobs'), { recursive: true });
writeFileSync(scripts.glueScript, 'from drivetrain_spark.jobs.ingest import main\n');
writeFileSync(scripts.emrEntryPoint, 'def main(argv): ...\n');
writeFileSync(join(scripts.packageDir, '__init__.py'), '');
afterAll(() => rmSync(scriptsDir, { recursive: true, force: true }));

const built = new Map<EnvironmentName, { stack: DataStack; template: Template }>();
function dataStackOf(env: EnvironmentName) {
  let entry = built.get(env);
  if (!entry) {
    const config = environmentConfig(env);
    const app = new App({ context: cdkContext });
    const where = { account: config.account, region: config.region };
    const network = new NetworkStack(app, 'Network', { config, env: where });
    const stack = new DataStack(app, 'Data', { config, env: where, vpc: network.vpc, scripts });
    entry = { stack, template: Template.fromStack(stack) };
    built.set(env, entry);
  }
  return entry;
}

function resourcesOf(template: Template, type: string): [string, Json][] {
  return Object.entries(template.findResources(type)).map(([id, r]) => [
    id,
    (r as { Properties: Json }).Properties,
  ]);
}

/** Statements of the managed policies attached to the role with this logical id. */
function roleStatements(template: Template, roleId: string): Statement[] {
  return resourcesOf(template, 'AWS::IAM::ManagedPolicy')
    .filter(([, policy]) => list(policy.Roles as Json[]).some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => (policy.PolicyDocument as { Statement: Statement[] }).Statement);
}

function roleId(template: Template, roleName: string): string {
  const [match] = resourcesOf(template, 'AWS::IAM::Role').filter(([, role]) => role.RoleName === roleName);
  if (!match) throw new Error(`no role ${roleName}`);
  return match[0];
}

const s3Actions = (statement: Statement) =>
  list(statement.Action).filter((action) => action.startsWith('s3:'));
const resourcesText = (statement: Statement) => list(statement.Resource).map((r) => JSON.stringify(r));

describe('DataStack', () => {
  let template: Template;
  let stack: DataStack;
  const config = environmentConfig('dev');
  const account = config.account;
  const bucket = (role: string) => `drivetrain-dev-${account}-${role}`;

  beforeAll(() => {
    ({ stack, template } = dataStackOf('dev'));
  });

  describe('buckets', () => {
    test('raw, curated and quarantine are KMS-encrypted with the data key, versioned and private', () => {
      const keyId = stack.getLogicalId(stack.key.node.defaultChild as never);

      for (const role of ['raw', 'curated', 'quarantine']) {
        template.hasResourceProperties('AWS::S3::Bucket', {
          BucketName: bucket(role),
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                ServerSideEncryptionByDefault: {
                  SSEAlgorithm: 'aws:kms',
                  KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
                },
                BucketKeyEnabled: true,
              },
            ],
          },
          VersioningConfiguration: { Status: 'Enabled' },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          LoggingConfiguration: { LogFilePrefix: `${role}/` },
        });
      }
    });

    test('every bucket refuses requests without TLS', () => {
      const buckets = resourcesOf(template, 'AWS::S3::Bucket').map(([id]) => id);
      const tlsOnly = resourcesOf(template, 'AWS::S3::BucketPolicy').filter(([, policy]) =>
        (policy.PolicyDocument as { Statement: Statement[] }).Statement.some(
          (s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
        ),
      );

      expect(tlsOnly.map(([, policy]) => (policy.Bucket as Json).Ref).sort()).toEqual(buckets.sort());
    });

    test('raw sends EventBridge notifications natively, without a custom resource', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: bucket('raw'),
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      });
      expect(template.findResources('Custom::S3BucketNotifications')).toEqual({});
    });

    test('raw moves to Intelligent-Tiering after the configured days', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: bucket('raw'),
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Transitions: [
                {
                  StorageClass: 'INTELLIGENT_TIERING',
                  TransitionInDays: config.data.raw.intelligentTieringAfterDays,
                },
              ],
            }),
          ]),
        },
      });
    });

    test('where configured, raw then moves on to the archive class', () => {
      const staging = environmentConfig('staging');
      const { archive } = staging.data.raw;

      dataStackOf('staging').template.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: `drivetrain-staging-${staging.account}-raw`,
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Transitions: [
                Match.objectLike({ StorageClass: 'INTELLIGENT_TIERING' }),
                { StorageClass: archive?.storageClass, TransitionInDays: archive?.afterDays },
              ],
            }),
          ]),
        },
      });
    });
  });

  describe('Glue job', () => {
    test('is a Glue 5.1 PySpark ETL job with Iceberg enabled over the Glue catalog', () => {
      template.hasResourceProperties('AWS::Glue::Job', {
        Command: { Name: 'glueetl', PythonVersion: '3' },
        GlueVersion: '5.1',
        WorkerType: config.data.glue.workerType,
        NumberOfWorkers: config.data.glue.workers,
        MaxRetries: 0,
        SecurityConfiguration: Match.anyValue(),
        DefaultArguments: Match.objectLike({
          '--datalake-formats': 'iceberg',
          '--conf': Match.stringLikeRegexp(
            'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions --conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog .*catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog',
          ),
          '--catalog_name': 'glue_catalog',
          '--database': 'drivetrain_dev',
          '--additional-python-modules': 'mcap==1.6.0,rosbags==0.11.9',
          '--extra-py-files': Match.stringLikeRegexp('^s3://.*\\.zip$'),
        }),
      });
    });

    test('its security configuration encrypts S3 output, logs and bookmarks with KMS', () => {
      template.hasResourceProperties('AWS::Glue::SecurityConfiguration', {
        EncryptionConfiguration: {
          S3Encryptions: [Match.objectLike({ S3EncryptionMode: 'SSE-KMS' })],
          CloudWatchEncryption: Match.objectLike({ CloudWatchEncryptionMode: 'SSE-KMS' }),
          JobBookmarksEncryption: Match.objectLike({ JobBookmarksEncryptionMode: 'CSE-KMS' }),
        },
      });
    });

    test('its role reads raw and writes only to curated and quarantine', () => {
      const statements = roleStatements(template, roleId(template, 'drivetrain-dev-ingest-glue'));
      const objectStatements = statements.filter((s) => s3Actions(s).some((a) => a !== 's3:ListBucket'));

      const writes = objectStatements.filter((s) => s3Actions(s).some((a) => /Put|Delete/.test(a)));
      const reads = objectStatements.filter((s) => s3Actions(s).includes('s3:GetObject'));

      expect(writes.length).toBeGreaterThan(0);
      for (const statement of writes) {
        for (const resource of resourcesText(statement)) {
          expect(resource).toMatch(new RegExp(`${bucket('curated')}/|${bucket('quarantine')}/`));
        }
      }
      expect(reads.flatMap(resourcesText).some((r) => r.includes(`${bucket('raw')}/raw/*`))).toBe(true);
      expect(statements.flatMap(resourcesText).filter((r) => r.includes(bucket('raw')))).not.toContain(
        expect.stringMatching(/Put|Delete/),
      );
    });
  });

  describe('EMR Serverless', () => {
    test('runs EMR 7.12 (Spark 3.5.6) with its maximum capacity from config, in private subnets', () => {
      const { emr } = config.data;

      template.hasResourceProperties('AWS::EMRServerless::Application', {
        ReleaseLabel: EMR_RELEASE_LABEL,
        Type: 'SPARK',
        MaximumCapacity: {
          Cpu: `${emr.maxVcpus} vCPU`,
          Memory: `${emr.maxMemoryGiB} GB`,
          Disk: `${emr.maxDiskGiB} GB`,
        },
        AutoStopConfiguration: { Enabled: true, IdleTimeoutMinutes: emr.idleTimeoutMinutes },
        NetworkConfiguration: {
          SubnetIds: Match.arrayWith([
            { 'Fn::GetStackOutput': Match.objectLike({ OutputName: Match.stringLikeRegexp('Private') }) },
          ]),
          SecurityGroupIds: Match.anyValue(),
        },
      });
    });

    test('its job role can only be assumed by EMR Serverless for this application', () => {
      const [, role] = resourcesOf(template, 'AWS::IAM::Role').find(
        ([, r]) => r.RoleName === 'drivetrain-dev-ingest-emr',
      )!;

      expect(role.AssumeRolePolicyDocument).toMatchObject({
        Statement: [
          {
            Principal: { Service: 'emr-serverless.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': account },
              ArnLike: {
                'aws:SourceArn': { 'Fn::GetAtt': [expect.stringMatching(/EmrApplication/), 'Arn'] },
              },
            },
          },
        ],
      });
    });
  });

  describe('ingest workflow', () => {
    test('deploys the ASL file as written, with a value for every placeholder', () => {
      const [[, machine]] = resourcesOf(template, 'AWS::StepFunctions::StateMachine') as [[string, Json]];
      const definition = stack.node
        .findAll()
        .find(
          (c): c is s3assets.Asset => c instanceof s3assets.Asset && c.node.path.includes('IngestWorkflow'),
        )!;
      const staged = join((stack.node.root as App).outdir, definition.assetPath);

      expect(machine.DefinitionS3Location).toMatchObject({ Key: `${definition.assetHash}.json` });
      expect(readFileSync(staged, 'utf8')).toBe(readFileSync(INGEST_DEFINITION_FILE, 'utf8'));
      expect(Object.keys(machine.DefinitionSubstitutions as Json).sort()).toEqual(ingestPlaceholders());
    });

    test('logs every execution to an encrypted log group and traces with X-Ray', () => {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: Match.anyValue() },
        TracingConfiguration: { Enabled: true },
      });
    });

    test('may start only the ingest Glue job and EMR Serverless application, and pass only the EMR job role', () => {
      const statements = roleStatements(template, roleId(template, 'drivetrain-dev-ingest-workflow'));
      const granting = (action: string) => statements.filter((s) => list(s.Action).includes(action));
      const glueJobId = resourcesOf(template, 'AWS::Glue::Job')[0]![0];

      expect(granting('glue:StartJobRun').flatMap(resourcesText)).toEqual([
        expect.stringContaining(`"Ref":"${glueJobId}"`),
      ]);
      expect(granting('emr-serverless:StartJobRun').flatMap((s) => list(s.Resource))).toEqual([
        { 'Fn::GetAtt': [expect.stringMatching(/EmrApplication/), 'Arn'] },
      ]);
      expect(granting('iam:PassRole')).toEqual([
        expect.objectContaining({
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/EmrJobRole/), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
        }),
      ]);
    });

    test('S3 Object Created events under raw/ with an ingest suffix go to the arrivals queue', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: {
            bucket: { name: [bucket('raw')] },
            object: { key: RAW_SUFFIXES.map((suffix) => ({ wildcard: `raw/*${suffix}` })) },
          },
        },
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Arrivals'), 'Arn'] },
            DeadLetterConfig: Match.anyValue(),
          }),
        ],
      });
    });

    test('the arrivals pipe starts one execution per batch of up to maxObjectsPerRun events', () => {
      template.hasResourceProperties('AWS::Pipes::Pipe', {
        Source: { 'Fn::GetAtt': [Match.stringLikeRegexp('Arrivals'), 'Arn'] },
        SourceParameters: {
          SqsQueueParameters: {
            BatchSize: config.data.maxObjectsPerRun,
            MaximumBatchingWindowInSeconds: config.data.eventBatchWindowSeconds,
          },
        },
        Target: { Ref: Match.stringLikeRegexp('StateMachine') },
        TargetParameters: { StepFunctionStateMachineParameters: { InvocationType: 'FIRE_AND_FORGET' } },
      });
    });

    test('a schedule sweeps the raw prefix', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: `rate(${config.data.sweepEveryHours / 24} day${config.data.sweepEveryHours === 24 ? '' : 's'})`,
        Targets: [Match.objectLike({ Input: JSON.stringify({ sweep: {} }) })],
      });
    });
  });

  test('alarms on failed, timed-out and aborted executions and on dead-lettered events', () => {
    const names = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.AlarmName);

    expect(names).toEqual(
      expect.arrayContaining([
        'drivetrain-dev-ingest-failed',
        'drivetrain-dev-ingest-timed-out',
        'drivetrain-dev-ingest-aborted',
        'drivetrain-dev-ingest-dead-letters',
        'drivetrain-dev-ingest-arrivals-stuck',
      ]),
    );
  });
});

describe('ingest job packages', () => {
  test('Glue installs every runtime dependency of the Spark package at its pinned version', () => {
    const modules = ingestPythonModules();

    expect(modules).toContain('mcap==1.6.0');
    expect(modules.every((pin) => /^[A-Za-z0-9_.-]+==\S+$/.test(pin))).toBe(true);
    expect(modules.some((pin) => pin.startsWith('pyspark'))).toBe(false);
  });
});

describe('data config', () => {
  const valid = environmentConfig('staging').data;

  test('rejects an archive transition that is not later than Intelligent-Tiering', () => {
    const result = dataSchema.safeParse({
      ...valid,
      raw: {
        ...valid.raw,
        archive: { storageClass: 'GLACIER', afterDays: valid.raw.intelligentTieringAfterDays },
      },
    });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['raw', 'archive', 'afterDays']);
  });

  test('rejects an EMR threshold no run can reach', () => {
    const result = dataSchema.safeParse({
      ...valid,
      emrThresholdGiB: valid.maxObjectGiB * valid.maxObjectsPerRun + 1,
    });

    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['emrThresholdGiB']]);
  });

  test('rejects a log retention CloudWatch Logs does not offer', () => {
    const result = dataSchema.safeParse({ ...valid, logRetentionDays: 100 });

    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['logRetentionDays']]);
  });
});

// Until the stage deploys the Data stack (it needs the Spark job's entry point), its
// security checks run here; test/lib/security.test.ts covers every stage's stacks.
describe('Data stack security checks', () => {
  test.each(securityRulePacks().map((pack) => [pack.name, pack] as const))(
    '%s finds nothing unacknowledged',
    (_name, pack) => {
      const { stack } = dataStackOf('prod');

      const findings = pack
        .validateScope(stack)
        .violations.flatMap((v) =>
          v.violatingResources.map(
            (r) => `${v.ruleName} at ${(r as { constructPath?: string }).constructPath}`,
          ),
        );

      expect(findings).toEqual([]);
    },
  );

  test('cfn-lint reports no errors', () => {
    const { stack } = dataStackOf('prod');
    const outdir = mkdtempSync(join(tmpdir(), 'drivetrain-data-lint-'));
    const file = join(outdir, 'data.template.json');
    writeFileSync(file, JSON.stringify(Template.fromStack(stack).toJSON()));

    const result = spawnSync(
      join(repoRoot, '.venv', 'bin', 'cfn-lint'),
      ['--format', 'parseable', '--', file],
      {
        encoding: 'utf8',
      },
    );
    rmSync(outdir, { recursive: true, force: true });

    const errors = result.stdout.split('\n').filter((line) => /:E\d+:/.test(line));
    expect(result.error).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
