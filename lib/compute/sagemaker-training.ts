import { ArnFormat, CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcards, SELF_REFERENCING_ALL_TRAFFIC } from '../nag';
import type { ArtifactStore } from './artifact-store';

export interface SageMakerTrainingProps {
  readonly env: string;
  readonly vpc: ec2.IVpc;
  readonly key: kms.IKey;
  readonly artifacts: ArtifactStore;
  /** ECR repositories training images may come from. */
  readonly ecrRepositories: string;
}

/**
 * What the scheduler needs to launch SageMaker training jobs: an execution role limited to
 * Drivetrain's S3 prefix and key, a security group for VPC-mode jobs (inter-node traffic
 * for distributed training), and the S3 locations for output and checkpoints.
 */
export class SageMakerTraining extends Construct {
  public readonly executionRole: iam.Role;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly outputUri: string;
  public readonly checkpointUri: string;

  constructor(scope: Construct, id: string, props: SageMakerTrainingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { bucket } = props.artifacts;
    this.outputUri = bucket.s3UrlForObject('sagemaker/output');
    this.checkpointUri = bucket.s3UrlForObject('sagemaker/checkpoints');

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'SageMaker training jobs: traffic between instances of one job, egress to AWS APIs',
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(
      this.securityGroup,
      ec2.Port.allTraffic(),
      'Distributed training between instances',
    );
    acknowledge(this.securityGroup, {
      'NIST.800.53.R5-EC2RestrictedCommonPorts': SELF_REFERENCING_ALL_TRAFFIC,
    });

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Drivetrain ${props.env} SageMaker training jobs`,
    });
    const logGroups = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/sagemaker/TrainingJobs:*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const policy = new iam.ManagedPolicy(this, 'ExecutionPolicy', {
      roles: [this.executionRole],
      statements: [
        ...props.artifacts.readWriteStatements('sagemaker/', props.key),
        // Encrypting the instances' storage volumes with the key goes through an EBS grant.
        new iam.PolicyStatement({
          actions: ['kms:CreateGrant'],
          resources: [props.key.keyArn],
          conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
        }),
        new iam.PolicyStatement({
          actions: [
            'logs:CreateLogGroup',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
            'logs:DescribeLogStreams',
          ],
          resources: [logGroups],
        }),
        new iam.PolicyStatement({
          actions: ['ecr:GetAuthorizationToken', 'cloudwatch:PutMetricData'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [props.ecrRepositories],
        }),
        // VPC-mode training creates and removes ENIs in Drivetrain's subnets.
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:CreateNetworkInterfacePermission',
            'ec2:DeleteNetworkInterface',
            'ec2:DeleteNetworkInterfacePermission',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeVpcs',
            'ec2:DescribeDhcpOptions',
            'ec2:DescribeSubnets',
            'ec2:DescribeSecurityGroups',
          ],
          resources: ['*'],
        }),
      ],
    });
    acknowledgeWildcards(stack, policy, {
      '*': 'ecr:GetAuthorizationToken, cloudwatch:PutMetricData and the EC2 network-interface actions of VPC-mode training have no resource-level permissions.',
      [logGroups]: 'SageMaker writes each training job to its own stream under this fixed log group.',
      [props.ecrRepositories]: 'Training images live under the drivetrain/ ECR namespace.',
      [props.artifacts.objectsArn('sagemaker/*')]:
        'Each training job writes output and checkpoints under sagemaker/<job-id>/.',
    });

    new CfnOutput(this, 'ExecutionRoleArn', { value: this.executionRole.roleArn });
    new CfnOutput(this, 'OutputUri', { value: this.outputUri });
    new CfnOutput(this, 'CheckpointUri', { value: this.checkpointUri });
  }
}
