import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { networkTemplate, propertiesOf } from './app-fixture';

const privateSubnets = (env: 'dev' | 'prod') =>
  propertiesOf(networkTemplate(env), 'AWS::EC2::Subnet').filter(
    (s) => s.MapPublicIpOnLaunch === false && JSON.stringify(s.Tags).includes('Private'),
  );

describe('network', () => {
  test('has one private subnet per configured zone: two in dev, three in prod', () => {
    expect(privateSubnets('dev')).toHaveLength(2);
    expect(privateSubnets('prod')).toHaveLength(3);
    expect(privateSubnets('prod').map((s) => s.AvailabilityZone)).toEqual(
      environmentConfig('prod').network.availabilityZones,
    );
  });

  test('private subnets are large enough for thousands of nodes', () => {
    for (const subnet of privateSubnets('prod')) expect(subnet.CidrBlock).toMatch(/\/18$/);
  });

  test('reaches S3 and DynamoDB through gateway endpoints', () => {
    const gateways = propertiesOf(networkTemplate('dev'), 'AWS::EC2::VPCEndpoint').filter(
      (e) => e.VpcEndpointType === 'Gateway',
    );

    expect(gateways.map((g) => JSON.stringify(g.ServiceName))).toEqual([
      expect.stringContaining('.s3'),
      expect.stringContaining('.dynamodb'),
    ]);
  });

  test('reaches ECR, CloudWatch Logs, STS and Batch through private interface endpoints', () => {
    const interfaces = propertiesOf(networkTemplate('dev'), 'AWS::EC2::VPCEndpoint')
      .filter((e) => e.VpcEndpointType === 'Interface')
      .map((e) => String(e.ServiceName));

    for (const service of ['ecr.api', 'ecr.dkr', 'logs', 'sts', 'batch']) {
      expect(interfaces).toContain(`com.amazonaws.us-east-1.${service}`);
    }
  });

  test('interface endpoints accept HTTPS from inside the VPC only', () => {
    networkTemplate('dev').hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('EcrApi'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.10.0.0/16', FromPort: 443, ToPort: 443 })],
    });
  });

  test('logs all traffic to a KMS-encrypted log group', () => {
    const template = networkTemplate('dev');
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', ResourceType: 'VPC' });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: Match.anyValue(),
      RetentionInDays: 30,
    });
  });
});
