import { Duration, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcards } from '../nag';

export interface KarpenterProps {
  readonly cluster: eks.ICluster;
  /** The cluster's name as configured: IAM condition keys must be literal. */
  readonly clusterName: string;
  /** Chart version of `oci://public.ecr.aws/karpenter/karpenter` (also its CRDs). */
  readonly version: string;
  /** The role Karpenter's nodes run as; it may pass only this one to EC2. */
  readonly nodeRole: iam.IRole;
  /** Node selector of the system nodes the controller runs on (never on nodes it manages). */
  readonly systemNodeSelector: Readonly<Record<string, string>>;
}

/** Where the controller runs and the service account Pod Identity maps to its role. */
export const KARPENTER_NAMESPACE = 'kube-system';
export const KARPENTER_SERVICE_ACCOUNT = 'karpenter';

/**
 * The EC2 events Karpenter acts on before AWS takes a node: spot interruption warnings,
 * rebalance recommendations, instance state changes and scheduled maintenance
 * (https://karpenter.sh/docs/concepts/disruption/#interruption).
 */
const INTERRUPTION_EVENTS: Record<string, events.EventPattern> = {
  SpotInterruption: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
  Rebalance: { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] },
  InstanceStateChange: { source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'] },
  ScheduledChange: { source: ['aws.health'], detailType: ['AWS Health Event'] },
};

/**
 * Karpenter, which launches the EKS GPU nodes the NodePools allow: its controller from the
 * Helm chart on the system nodes, an IAM role bound to its service account through EKS Pod
 * Identity and scoped to instances, launch templates and instance profiles tagged for this
 * cluster, and an interruption queue fed by EventBridge so spot reclaims and maintenance
 * drain nodes before they vanish.
 */
export class Karpenter extends Construct {
  public readonly role: iam.Role;
  public readonly interruptionQueue: sqs.Queue;
  public readonly chart: eks.HelmChart;

  constructor(scope: Construct, id: string, props: KarpenterProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { cluster } = props;
    const { clusterName } = props;

    this.interruptionQueue = new sqs.Queue(this, 'InterruptionQueue', {
      // Karpenter's recommended retention: an interruption notice is stale after minutes.
      retentionPeriod: Duration.minutes(5),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(this.interruptionQueue, {
      'AwsSolutions-SQS3':
        'Karpenter deletes each notice it handles and a notice is stale within minutes (5-minute retention); a dead-letter queue would only collect expired warnings.',
      'NIST.800.53.R5-SQSQueueSSE':
        'SQS-managed encryption: EventBridge, the only sender, cannot use a customer key without a key policy per rule, and the messages are public EC2 event notices.',
    });
    for (const [name, eventPattern] of Object.entries(INTERRUPTION_EVENTS)) {
      new events.Rule(this, `${name}Rule`, {
        eventPattern,
        targets: [new targets.SqsQueue(this.interruptionQueue)],
      });
    }

    this.role = new iam.Role(this, 'ControllerRole', {
      assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com'),
      description: `Karpenter controller of ${clusterName} (EKS Pod Identity)`,
    });
    this.role.assumeRolePolicy?.addStatements(
      new iam.PolicyStatement({
        actions: ['sts:TagSession'],
        principals: [new iam.ServicePrincipal('pods.eks.amazonaws.com')],
      }),
    );
    const policy = new iam.ManagedPolicy(this, 'ControllerPolicy', {
      roles: [this.role],
      statements: controllerStatements(stack, clusterName, props.nodeRole, this.interruptionQueue.queueArn),
    });
    acknowledgeWildcards(stack, policy, controllerWildcards(stack));

    const agent = new eks.Addon(this, 'PodIdentityAgent', { cluster, addonName: 'eks-pod-identity-agent' });
    const association = new eks.CfnPodIdentityAssociation(this, 'PodIdentity', {
      clusterName,
      namespace: KARPENTER_NAMESPACE,
      serviceAccount: KARPENTER_SERVICE_ACCOUNT,
      roleArn: this.role.roleArn,
    });
    association.node.addDependency(agent);

    this.chart = new eks.HelmChart(this, 'Chart', {
      cluster,
      chart: 'karpenter',
      repository: 'oci://public.ecr.aws/karpenter/karpenter',
      version: props.version,
      release: 'karpenter',
      namespace: KARPENTER_NAMESPACE,
      values: {
        settings: { clusterName, interruptionQueue: this.interruptionQueue.queueName },
        serviceAccount: { name: KARPENTER_SERVICE_ACCOUNT },
        nodeSelector: props.systemNodeSelector,
        replicas: 2,
      },
    });
    this.chart.node.addDependency(association);
  }
}

const CLUSTER_TAG = (clusterName: string) => `aws:RequestTag/kubernetes.io/cluster/${clusterName}`;

/** The controller's permissions, after Karpenter's reference CloudFormation policy, scoped to this cluster. */
function controllerStatements(
  stack: Stack,
  clusterName: string,
  nodeRole: iam.IRole,
  queueArn: string,
): iam.PolicyStatement[] {
  const ec2 = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' });
  const ec2Global = (resource: string) =>
    stack.formatArn({ service: 'ec2', resource, resourceName: '*', account: '' });
  const launched = [
    'fleet',
    'instance',
    'volume',
    'network-interface',
    'launch-template',
    'spot-instances-request',
  ];
  const owned = {
    [CLUSTER_TAG(clusterName)]: 'owned',
    'aws:RequestTag/eks:eks-cluster-name': clusterName,
  };
  const ownedResource = { [`aws:ResourceTag/kubernetes.io/cluster/${clusterName}`]: 'owned' };
  const profile = stack.formatArn({
    service: 'iam',
    region: '',
    resource: 'instance-profile',
    resourceName: '*',
  });
  return [
    new iam.PolicyStatement({
      sid: 'LaunchFromImagesSubnetsAndGroups',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
      resources: [
        ec2Global('image'),
        ec2Global('snapshot'),
        ec2('security-group'),
        ec2('subnet'),
        ec2('capacity-reservation'),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'LaunchFromOwnLaunchTemplates',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
      resources: [ec2('launch-template')],
      conditions: {
        StringEquals: ownedResource,
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'CreateTaggedForCluster',
      actions: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate'],
      resources: launched.map(ec2),
      conditions: { StringEquals: owned, StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' } },
    }),
    new iam.PolicyStatement({
      sid: 'TagOnCreate',
      actions: ['ec2:CreateTags'],
      resources: launched.map(ec2),
      conditions: {
        StringEquals: {
          ...owned,
          'ec2:CreateAction': ['RunInstances', 'CreateFleet', 'CreateLaunchTemplate'],
        },
        StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'TagOwnInstances',
      actions: ['ec2:CreateTags'],
      resources: [ec2('instance')],
      conditions: {
        StringEquals: ownedResource,
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
        'ForAllValues:StringEquals': {
          'aws:TagKeys': ['eks:eks-cluster-name', 'karpenter.sh/nodeclaim', 'Name'],
        },
      },
    }),
    new iam.PolicyStatement({
      sid: 'DeleteOwnInstancesAndTemplates',
      actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
      resources: [ec2('instance'), ec2('launch-template')],
      conditions: {
        StringEquals: ownedResource,
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'RegionalReads',
      actions: [
        'ec2:DescribeAvailabilityZones',
        'ec2:DescribeCapacityReservations',
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'ec2:DescribeInstanceTypeOfferings',
        'ec2:DescribeInstanceTypes',
        'ec2:DescribeLaunchTemplates',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeSpotPriceHistory',
        'ec2:DescribeSubnets',
      ],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:RequestedRegion': stack.region } },
    }),
    new iam.PolicyStatement({
      sid: 'AmiParameters',
      actions: ['ssm:GetParameter'],
      resources: [
        stack.formatArn({
          service: 'ssm',
          account: '',
          resource: 'parameter',
          resourceName: 'aws/service/*',
        }),
      ],
    }),
    new iam.PolicyStatement({ sid: 'Pricing', actions: ['pricing:GetProducts'], resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'InterruptionQueue',
      actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
      resources: [queueArn],
    }),
    new iam.PolicyStatement({
      sid: 'PassNodeRole',
      actions: ['iam:PassRole'],
      resources: [nodeRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      sid: 'CreateTaggedInstanceProfiles',
      actions: ['iam:CreateInstanceProfile', 'iam:TagInstanceProfile'],
      resources: [profile],
      conditions: {
        StringEquals: { ...owned, 'aws:RequestTag/topology.kubernetes.io/region': stack.region },
        StringLike: { 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'ManageOwnInstanceProfiles',
      actions: [
        'iam:AddRoleToInstanceProfile',
        'iam:RemoveRoleFromInstanceProfile',
        'iam:DeleteInstanceProfile',
        'iam:TagInstanceProfile',
      ],
      resources: [profile],
      conditions: {
        StringEquals: { ...ownedResource, 'aws:ResourceTag/topology.kubernetes.io/region': stack.region },
        StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*' },
      },
    }),
    new iam.PolicyStatement({
      sid: 'ReadInstanceProfiles',
      actions: ['iam:GetInstanceProfile'],
      resources: [profile],
    }),
    new iam.PolicyStatement({
      sid: 'ClusterEndpoint',
      actions: ['eks:DescribeCluster'],
      resources: [stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: clusterName })],
    }),
  ];
}

function controllerWildcards(stack: Stack): Record<string, string> {
  const ec2 = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' });
  const reason = (what: string) =>
    `${what}; every create, tag and delete is held to resources tagged for this cluster and a Karpenter NodePool.`;
  return {
    '*': 'EC2 Describe calls and pricing:GetProducts have no resource-level permissions; the Describe calls are held to this region.',
    [stack.formatArn({ service: 'ec2', resource: 'image', resourceName: '*', account: '' })]:
      'Karpenter resolves the EKS-optimized AMI at launch; images are owned by AWS.',
    [stack.formatArn({ service: 'ec2', resource: 'snapshot', resourceName: '*', account: '' })]:
      'Snapshots behind the AMIs Karpenter launches, owned by AWS.',
    [ec2('security-group')]: 'The EC2NodeClass names the security groups; EC2 checks launch access on each.',
    [ec2('subnet')]: 'The EC2NodeClass names the subnets; EC2 checks launch access on each.',
    [ec2('capacity-reservation')]: 'Launches may use capacity reservations the account holds.',
    [ec2('launch-template')]: reason('Karpenter names its launch templates at run time'),
    [ec2('fleet')]: reason('Fleet ids are assigned at creation'),
    [ec2('instance')]: reason('Instance ids are assigned at launch'),
    [ec2('volume')]: reason('Volume ids are assigned at launch'),
    [ec2('network-interface')]: reason('Interface ids are assigned at launch'),
    [ec2('spot-instances-request')]: reason('Spot request ids are assigned at launch'),
    [stack.formatArn({ service: 'ssm', account: '', resource: 'parameter', resourceName: 'aws/service/*' })]:
      'The public SSM parameters where AWS publishes the EKS-optimized AMI ids.',
    [stack.formatArn({ service: 'iam', region: '', resource: 'instance-profile', resourceName: '*' })]:
      'Karpenter creates one instance profile per EC2NodeClass, named at run time and tagged for this cluster.',
  };
}
