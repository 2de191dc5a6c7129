import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { encryptionKey } from './encryption-key';
import { acknowledge } from './nag';

export interface NetworkStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** AWS APIs that GPU nodes, Batch/ECS agents, EKS nodes and SageMaker call without NAT. */
const INTERFACE_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Batch: ec2.InterfaceVpcEndpointAwsService.BATCH,
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
  EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
  Eks: ec2.InterfaceVpcEndpointAwsService.EKS,
  EksAuth: ec2.InterfaceVpcEndpointAwsService.EKS_AUTH,
  Ec2: ec2.InterfaceVpcEndpointAwsService.EC2,
  Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
  SageMakerApi: ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  // The job API wakes the dispatcher with PutEvents.
  EventBridge: ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
};

/**
 * The VPC every pillar runs in: private subnets sized for thousands of nodes, AWS APIs
 * reached through VPC endpoints, and flow logs encrypted with a customer-managed key.
 */
export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;

  private readonly configuredZones: string[];

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { network } = props.config;
    this.configuredZones = network.availabilityZones;
    const withNat = network.natGateways > 0;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      availabilityZones: network.availabilityZones,
      natGateways: network.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        ...(withNat
          ? [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26, mapPublicIpOnLaunch: false }]
          : []),
        {
          name: 'Private',
          subnetType: withNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
          cidrMask: network.privateSubnetMask,
        },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });

    acknowledge(this.vpc, {
      'CloudFormation-Validate::W3010':
        'Zones are pinned in config so that synth needs no AWS lookup and every deploy of an environment lands in the same zones.',
    });

    for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true, open: false });
      // The literal CIDR rather than the VPC's token keeps the rule statically checkable.
      endpoint.connections.allowDefaultPortFrom(ec2.Peer.ipv4(network.cidr), 'HTTPS from inside the VPC');
    }

    const flowLogKey = encryptionKey(this, 'FlowLogKey', {
      description: `Drivetrain ${props.config.name} VPC flow logs`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const flowLogRole = new iam.Role(this, 'FlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com'),
    });
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: flowLogKey,
      retention: network.flowLogRetentionDays as logs.RetentionDays,
      removalPolicy: props.config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup, flowLogRole),
      trafficType: ec2.FlowLogTrafficType.ALL,
      maxAggregationInterval: ec2.FlowLogMaxAggregationInterval.ONE_MINUTE,
    });

    acknowledge(flowLogRole, {
      'NIST.800.53.R5-IAMNoInlinePolicy':
        'Holds only the iam:PassRole and log-write grants CDK adds for flow-log delivery to this one log group.',
    });
    new iam.ManagedPolicy(this, 'FlowLogPolicy', {
      roles: [flowLogRole],
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [flowLogGroup.logGroupArn],
        }),
      ],
    });

    if (withNat) {
      for (const subnet of this.vpc.publicSubnets) {
        acknowledge(subnet, {
          'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW':
            'Public subnets hold only the NAT gateways that give private GPU nodes egress to public container and package registries; no instance is placed in them.',
        });
      }
    }
  }

  /** Zones come from config: a lookup would need AWS credentials at synth time. */
  override get availabilityZones(): string[] {
    return this.configuredZones;
  }
}
