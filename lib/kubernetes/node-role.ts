import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

/** The AWS managed policies EKS requires on a node: kubelet, the VPC CNI and image pulls. */
const NODE_POLICIES = [
  'AmazonEKSWorkerNodePolicy',
  'AmazonEKS_CNI_Policy',
  'AmazonEC2ContainerRegistryPullOnly',
];

/**
 * Instance role shared by every node of one cluster. EKS creates the node access entry for
 * it. Team pods cannot reach it: the metadata hop limit is 1 (NodeLaunchTemplate) and team
 * namespaces enforce the baseline Pod Security level, which forbids host networking.
 */
export class NodeRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.role = new iam.Role(this, 'Resource', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'EKS managed nodes: kubelet, VPC CNI and image pulls',
      managedPolicies: NODE_POLICIES.map((name) => iam.ManagedPolicy.fromAwsManagedPolicyName(name)),
    });
    acknowledge(
      this.role,
      Object.fromEntries(
        NODE_POLICIES.map((name) => [
          `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`,
          `EKS requires ${name} on managed node roles; AWS keeps it current as the kubelet, VPC CNI and ECR change.`,
        ]),
      ),
    );
  }
}
