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
