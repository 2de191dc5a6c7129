import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import { type CfnCondition, type CfnResource, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../../config/schema';
import { acknowledge } from '../nag';

const ECR_PUBLIC_READ = 'AmazonElasticContainerRegistryPublicReadOnly';

type KubernetesVersion = EnvironmentConfig['eks']['kubernetesVersion'];

type LayerClass = new (scope: Construct, id: string) => lambda.ILayerVersion;

/** kubectl and helm in the provider Lambda must match the cluster's minor version. */
const KUBECTL_LAYERS: Record<KubernetesVersion, LayerClass> = { '1.34': KubectlV34Layer };

export interface PrivateClusterProps {
  readonly clusterName: string;
  readonly version: KubernetesVersion;
  /** The control plane, its kubectl provider and the nodes use this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
  /** Envelope-encrypts Kubernetes secrets and encrypts the cluster's log groups. */
  readonly key: kms.IKey;
  /** Retention of the control-plane log group. */
  readonly logRetention: logs.RetentionDays;
  /** Applied to the control-plane log group. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * IAM role ARNs granted cluster-admin through EKS access entries.
   * @default - no admins besides the kubectl provider
   */
  readonly adminRoleArns?: readonly string[];
}

/**
 * An EKS cluster reachable only from inside its VPC: API-mode authentication (access
 * entries), all control-plane log types into a KMS-encrypted log group, secrets
 * envelope-encrypted with a customer-managed key, and a kubectl provider for Helm charts
 * and manifests. It has no capacity of its own; callers add node groups.
 */
export class PrivateCluster extends Construct {
  public readonly cluster: eks.Cluster;

  constructor(scope: Construct, id: string, props: PrivateClusterProps) {
    super(scope, id);

    // Created ahead of the cluster so retention and encryption are ours, not EKS's defaults.
    const controlPlaneLogs = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${props.clusterName}/cluster`,
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    const KubectlLayer = KUBECTL_LAYERS[props.version];
    this.cluster = new eks.Cluster(this, 'Resource', {
      clusterName: props.clusterName,
      version: eks.KubernetesVersion.of(props.version),
      vpc: props.vpc,
      vpcSubnets: [{ subnets: props.vpc.privateSubnets }],
      // With a private endpoint the L2 also runs the kubectl Lambda in these subnets.
      endpointAccess: eks.EndpointAccess.PRIVATE,
      secretsEncryptionKey: props.key,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      // Managed node groups instead of Auto Mode: GPU nodes need the NVIDIA AMI, labels and taints.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      // Admins come from access entries only, not from whichever principal ran the deployment.
      bootstrapClusterCreatorAdminPermissions: false,
      kubectlProviderOptions: { kubectlLayer: new KubectlLayer(this, 'KubectlLayer') },
    });
    (this.cluster.node.defaultChild as CfnResource).node.addDependency(controlPlaneLogs);

    for (const roleArn of props.adminRoleArns ?? []) {
      // Keyed by role name, not list position: reordering the list must not recreate entries.
      this.cluster.grantClusterAdmin(`Admin-${roleArn.split('/').pop()}`, roleArn);
    }

    acknowledge(this.cluster, {
      'CloudFormation-Validate::W9009':
        "aws-eks-v2 writes EncryptionConfig Resources ['secrets'], now deprecated because a customer key covers all Kubernetes API data; EKS still accepts it.",
    });
    acknowledge(this.cluster.role, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]':
        'EKS requires this AWS managed policy on the cluster service role; AWS updates it with the control plane.',
    });
    this.secureKubectlProvider(props.key);
  }

  /** Encrypts the kubectl provider's logs and acknowledges what aws-eks-v2 fixes about it. */
  private secureKubectlProvider(key: kms.IKey): void {
    const provider = this.cluster.node.findChild('KubectlProvider');
    for (const logGroup of provider.node.findAll().filter((c) => c instanceof logs.CfnLogGroup)) {
      logGroup.kmsKeyId = key.keyArn;
    }

    const stack = Stack.of(this);
    const handler = provider.node.findChild('Handler');
    const handlerArn = `<${stack.getLogicalId(handler.node.defaultChild as lambda.CfnFunction)}.Arn>`;
    // The ECR Public policy is attached only where the partition has ECR Public, behind this condition.
    const hasEcrPublic = stack.getLogicalId(handler.node.findChild('HasEcrPublic') as CfnCondition);
    const ecrPublicPolicy = JSON.stringify({
      'Fn::If': [
        hasEcrPublic,
        stack.resolve(iam.ManagedPolicy.fromAwsManagedPolicyName(ECR_PUBLIC_READ).managedPolicyArn),
        { Ref: 'AWS::NoValue' },
      ],
    });
    const managedPolicy = (name: string) =>
      `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
    acknowledge(provider, {
      [managedPolicy('service-role/AWSLambdaBasicExecutionRole')]:
        'aws-eks-v2 gives its kubectl handler and custom-resource framework Lambdas the AWS managed log-writing policy.',
      [managedPolicy('service-role/AWSLambdaVPCAccessExecutionRole')]:
        'The kubectl Lambdas run in the VPC to reach the private API endpoint; this AWS managed policy manages their ENIs.',
      [managedPolicy('AmazonEC2ContainerRegistryReadOnly')]:
        'aws-eks-v2 attaches it to the kubectl handler so Helm can pull OCI charts from private ECR.',
      [`AwsSolutions-IAM4[Policy::${ecrPublicPolicy}]`]:
        'aws-eks-v2 attaches the AWS managed ECR Public read policy (where the partition has ECR Public) for public OCI charts.',
      [`AwsSolutions-IAM5[Resource::${handlerArn}:*]`]:
        'The custom-resource framework may invoke any version of the one kubectl handler function, nothing else.',
      'AwsSolutions-L1':
        'aws-eks-v2 sets the kubectl handler to the Python runtime aws-cdk-lib vouches for (3.13 in 2.276); it moves with aws-cdk-lib upgrades.',
      'NIST.800.53.R5-IAMNoInlinePolicy':
        'CDK-generated grants scoped to this cluster (eks:DescribeCluster) and to invoking the kubectl handler.',
      'NIST.800.53.R5-LambdaConcurrency':
        'CloudFormation custom-resource handlers run only during deployments; reserved concurrency would only take from the account pool.',
      'NIST.800.53.R5-LambdaDLQ':
        'Invoked synchronously by CloudFormation through the provider framework: failures fail the deployment, nothing is left to dead-letter.',
    });
  }
}
