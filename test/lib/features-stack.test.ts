import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { DEFAULT_FEATURE_STORE_CONFIG } from '../../config/features';
import { REGISTRY } from '../../features/catalog';
import { FEATURE_API_ROUTES } from '../../lib/features/feature-api';
import { securityRulePacks } from '../../lib/nag';
import { propertiesOf, stageOf } from './app-fixture';

let template: Template | undefined;
/** Synthesized once: bundling the functions is the slow part. */
const features = () => {
  template ??= Template.fromStack(stageOf('dev').features);
  return template;
};

describe('Drivetrain-<env>-Features', () => {
  test('the online table is on-demand, PITR, KMS, keyed as features/online/online-table.ts says', () => {
    features().hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'drivetrain-dev-features',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });

  test('the cache is ElastiCache Serverless for Valkey in the private subnets, KMS, with IAM-authenticated users only', () => {
    const template = features();
    const [cache] = propertiesOf(template, 'AWS::ElastiCache::ServerlessCache');
    expect(cache).toMatchObject({
      Engine: 'valkey',
      KmsKeyId: expect.anything(),
      UserGroupId: expect.anything(),
      CacheUsageLimits: {
        DataStorage: { Maximum: DEFAULT_FEATURE_STORE_CONFIG.cache.maxDataStorageGb, Unit: 'GB' },
      },
    });
    expect((cache!.SubnetIds as unknown[]).length).toBe(2);
    const users = propertiesOf(template, 'AWS::ElastiCache::User');
    expect(users.map((u) => (u.AuthenticationMode as { Type: string }).Type)).toEqual(['iam', 'iam']);
    expect(users.find((u) => u.UserName === 'default')?.AccessString).toBe('off -@all');
  });

  test('the cache admits only the feature functions, on the Valkey ports', () => {
    const ingress = propertiesOf(features(), 'AWS::EC2::SecurityGroupIngress').filter(
      (rule) => rule.FromPort === 6379,
    );
    expect(ingress).toHaveLength(2);
    for (const rule of ingress)
      expect(rule).toMatchObject({ ToPort: 6380, SourceSecurityGroupId: expect.anything() });
  });

  test('both functions run in the VPC, bundled by esbuild, and may connect to the cache as the feature user only', () => {
    const template = features();
    const functions = propertiesOf(template, 'AWS::Lambda::Function').filter((f) =>
      String(
        (f.Environment as { Variables?: { FEATURE_TABLE_NAME?: unknown } })?.Variables?.FEATURE_TABLE_NAME ??
          '',
      ),
    );
    expect(functions).toHaveLength(2);
    for (const fn of functions) {
      expect(fn.VpcConfig).toBeDefined();
      expect((fn.Environment as { Variables: Record<string, unknown> }).Variables.REGISTRY_HASH).toBe(
        REGISTRY.hash,
      );
    }
    const connects = propertiesOf(template, 'AWS::IAM::ManagedPolicy')
      .flatMap((p) => (p.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }).Statement)
      .filter((s) => s.Action === 'elasticache:Connect');
    expect(connects).toHaveLength(2);
  });

  test('every route of the feature API requires SigV4 (IAM)', () => {
    const methods = propertiesOf(features(), 'AWS::ApiGateway::Method');
    expect(methods).toHaveLength(FEATURE_API_ROUTES.length);
    for (const method of methods) expect(method.AuthorizationType).toBe('AWS_IAM');
  });

  test('materialization runs Glue 5.1 from a state machine started by a schedule and by ETL completions', () => {
    const template = features();
    template.hasResourceProperties('AWS::Glue::Job', {
      GlueVersion: '5.1',
      Command: Match.objectLike({ Name: 'glueetl' }),
      SecurityConfiguration: Match.anyValue(),
      DefaultArguments: Match.objectLike({ '--datalake-formats': 'iceberg' }),
    });
    const rules = propertiesOf(template, 'AWS::Events::Rule');
    expect(rules.map((r) => r.ScheduleExpression).filter(Boolean)).toEqual([
      DEFAULT_FEATURE_STORE_CONFIG.materialization.schedule,
    ]);
    expect(rules.map((r) => r.EventPattern).filter(Boolean)).toEqual([
      { source: ['drivetrain.etl'], 'detail-type': ['Ingest Run Succeeded'] },
    ]);
    const definition = JSON.stringify(
      propertiesOf(template, 'AWS::StepFunctions::StateMachine')[0]!.DefinitionString,
    );
    expect(definition).toContain('glue:startJobRun.sync');
  });

  test('alarms watch latency, error rate, cache hit rate and failed materializations', () => {
    const names = propertiesOf(features(), 'AWS::CloudWatch::Alarm').map((a) => a.AlarmName);
    expect(names).toEqual(
      expect.arrayContaining([
        'drivetrain-dev-features-latency-p99',
        'drivetrain-dev-features-error-rate',
        'drivetrain-dev-features-cache-hit-rate',
        'drivetrain-dev-features-materialization-failed',
      ]),
    );
  });

  test.each(securityRulePacks().map((pack) => [pack.name, pack] as const))(
    '%s finds nothing unacknowledged in the stack',
    (_name, pack) => {
      const findings = pack
        .validateScope(stageOf('dev').features)
        .violations.flatMap((v) =>
          v.violatingResources.map(
            (r) => `${v.ruleName} at ${(r as { constructPath?: string }).constructPath}`,
          ),
        );

      expect(findings).toEqual([]);
    },
  );
});
