import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { stageOf } from './app-fixture';
import { evaluate, type Request, type Statement, statementsOfRole } from './iam-policy';

const dev = environmentConfig('dev');
const at = { account: dev.account, region: dev.region };

describe('dispatcher: SageMaker training jobs', () => {
  const stage = stageOf('dev');
  const template = Template.fromStack(stage.scheduling);
  const roleId = stage.scheduling.getLogicalId(
    stage.scheduling.dispatcher.role.node.defaultChild as CfnResource,
  );
  const statements = statementsOfRole(template, roleId, at);
  const create = statements.filter((s) => [s.Action].flat().includes('sagemaker:CreateTrainingJob'));
  const condition = (s: Statement, operator: string, key: string) =>
    s.Condition?.[operator]?.[key] as string[] | string;
  const keyArn = condition(create[0]!, 'StringEquals', 'sagemaker:OutputKmsKey') as string;
  const network = {
    'sagemaker:VpcSubnets': condition(create[0]!, 'ForAllValues:StringEquals', 'sagemaker:VpcSubnets'),
    'sagemaker:VpcSecurityGroupIds': condition(
      create[0]!,
      'ForAllValues:StringEquals',
      'sagemaker:VpcSecurityGroupIds',
    ),
    'sagemaker:OutputKmsKey': keyArn,
  };
  const request = (instanceType: string, volumeKey?: string): Request => ({
    action: 'sagemaker:CreateTrainingJob',
    resource: `arn:aws:sagemaker:${dev.region}:${dev.account}:training-job/dt-abc-1`,
    context: {
      ...network,
      'sagemaker:InstanceTypes': [instanceType],
      ...(volumeKey ? { 'sagemaker:VolumeKmsKey': volumeKey } : {}),
    },
  });

  test('a type with local NVMe storage may be created only without a volume key', () => {
    expect(evaluate(statements, request('ml.g5.12xlarge'))).toBe('allow');
    expect(evaluate(statements, request('ml.g5.12xlarge', keyArn))).toBe('implicit-deny');
  });

  test('an EBS-backed type may be created only with its volume encrypted by the Drivetrain key', () => {
    expect(evaluate(statements, request('ml.m5.xlarge', keyArn))).toBe('allow');
    expect(evaluate(statements, request('ml.m5.xlarge'))).toBe('implicit-deny');
    expect(
      evaluate(statements, request('ml.m5.xlarge', 'arn:aws:kms:us-east-1:111111111111:key/other')),
    ).toBe('implicit-deny');
  });

  test('outside the configured instance types and network nothing is allowed', () => {
    expect(evaluate(statements, request('ml.p5.48xlarge'))).toBe('implicit-deny');
    const elsewhere = {
      ...request('ml.g5.12xlarge'),
      context: { ...request('ml.g5.12xlarge').context, 'sagemaker:VpcSubnets': ['subnet-other'] },
    };
    expect(evaluate(statements, elsewhere)).toBe('implicit-deny');
  });
});

describe('per-team isolation of job credentials and data', () => {
  const stage = stageOf('dev');
  const template = Template.fromStack(stage.compute);
  const bucket = `drivetrain-dev-artifacts-${dev.account}-${dev.region}`;
  const roleStatements = (role: { node: { defaultChild?: unknown } }) =>
    statementsOfRole(template, stage.compute.getLogicalId(role.node.defaultChild as CfnResource), at);
  const teams = dev.teams.map((t) => t.name);
  const credentials = teams.flatMap((team) => {
    const roles = stage.compute.teamRoles.get(team)!;
    return [
      { team, kind: 'Batch job role', statements: roleStatements(roles.batchJobRole) },
      { team, kind: 'SageMaker execution role', statements: roleStatements(roles.sageMakerRole) },
    ];
  });
  const object = (team: string, path: string) => `arn:aws:s3:::${bucket}/teams/${team}/${path}`;
  const objectActions = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];
  const list = (prefix: string): Request => ({
    action: 's3:ListBucket',
    resource: `arn:aws:s3:::${bucket}`,
    context: { 's3:prefix': prefix },
  });

  test.each(credentials.map((c) => [c.kind, c.team, c] as const))(
    "%s of %s reads and writes its own team's checkpoints, outputs and logs",
    (_kind, team, { statements }) => {
      for (const path of ['checkpoints/job-1/epoch-3.pt', 'outputs/model.tar.gz', 'logs/job-1.log']) {
        for (const action of objectActions) {
          expect(evaluate(statements, { action, resource: object(team, path) })).toBe('allow');
        }
      }
      expect(evaluate(statements, list(`teams/${team}/checkpoints/`))).toBe('allow');
    },
  );

  test.each(credentials.map((c) => [c.kind, c.team, c] as const))(
    "%s of %s can neither read, write, delete nor list another team's data",
    (_kind, team, { statements }) => {
      for (const other of teams.filter((t) => t !== team)) {
        for (const path of ['checkpoints/job-9/latest.pt', 'outputs/model.tar.gz', 'logs/job-9.log']) {
          for (const action of [...objectActions, 's3:AbortMultipartUpload']) {
            expect(evaluate(statements, { action, resource: object(other, path) })).not.toBe('allow');
          }
        }
        expect(evaluate(statements, list(`teams/${other}/`))).not.toBe('allow');
      }
      // Nor anything outside the team prefixes, nor the whole bucket listing.
      expect(
        evaluate(statements, { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/jobs/x` }),
      ).not.toBe('allow');
      expect(evaluate(statements, list(''))).not.toBe('allow');
      expect(evaluate(statements, list('teams/'))).not.toBe('allow');
    },
  );

  test('a prefix that only starts like a team name is not that team (teams/plan vs teams/planning)', () => {
    const perception = credentials.find((c) => c.team === 'perception')!.statements;

    expect(
      evaluate(perception, { action: 's3:GetObject', resource: object('perception-shadow', 'x') }),
    ).not.toBe('allow');
  });

  test('SageMaker roles manage network interfaces only in the Drivetrain VPC', () => {
    const { statements } = credentials.find((c) => c.kind === 'SageMaker execution role')!;
    const vpcId = stage.network.getLogicalId(stage.network.vpc.node.defaultChild as CfnResource);
    const eni = (vpc: string): Request => ({
      action: 'ec2:CreateNetworkInterface',
      resource: `arn:aws:ec2:${dev.region}:${dev.account}:subnet/subnet-1`,
      context: { 'ec2:Vpc': vpc },
    });
    const ours =
      (statements.find((s) => s.Condition?.ArnEquals)?.Condition?.ArnEquals?.['ec2:Vpc'] as string) ?? '';

    expect(ours).toContain(vpcId.slice(0, 3));
    expect(evaluate(statements, eni(ours))).toBe('allow');
    expect(evaluate(statements, eni(`arn:aws:ec2:${dev.region}:${dev.account}:vpc/vpc-elsewhere`))).not.toBe(
      'allow',
    );
    expect(evaluate(statements, { action: 'ec2:DeleteNetworkInterface', resource: '*' })).not.toBe('allow');
  });
});
