import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from '../nag';
import type { ArtifactStore } from './artifact-store';

export interface TeamRolesProps {
  readonly env: string;
  readonly team: string;
  readonly artifacts: ArtifactStore;
  readonly key: kms.IKey;
  /** ECR repositories job images may come from. */
  readonly ecrRepositories: string;
  /** VPC-mode SageMaker training creates its network interfaces in these subnets only. */
  readonly vpc: ec2.IVpc;
}

/** `drivetrain-<env>-<kind>-<team>`: fixed names, so the dispatcher derives a team's role ARN. */
export function teamRoleName(env: string, kind: 'batch-job' | 'sagemaker', team: string): string {
  return `drivetrain-${env}-${kind}-${team}`;
}

/**
 * One team's job credentials: the role its Batch containers run as and the execution role of
 * its SageMaker training jobs. Each reaches the team's own prefix of the artifacts bucket
 * (`teams/<team>/`: checkpoints, outputs, logs) and nothing of another team's.
 */
export class TeamRoles extends Construct {
  public readonly batchJobRole: iam.Role;
  public readonly sageMakerRole: iam.Role;

  constructor(scope: Construct, id: string, props: TeamRolesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { artifacts, key, team, env } = props;
    const prefix = artifacts.teamPrefix(team);
    const objects = artifacts.objectsArn(`${prefix}*`);

    this.batchJobRole = new iam.Role(this, 'BatchJobRole', {
      roleName: teamRoleName(env, 'batch-job', team),
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Batch containers of team ${team}: its checkpoints, outputs and logs under ${prefix}`,
    });
    const batchPolicy = new iam.ManagedPolicy(this, 'BatchJobPolicy', {
      roles: [this.batchJobRole],
      statements: artifacts.readWriteStatements(prefix, key),
    });
    acknowledgeWildcards(stack, batchPolicy, {
      [objects]: `Team ${team}'s jobs name their objects at run time, under its own prefix ${prefix} only.`,
    });

    this.sageMakerRole = new iam.Role(this, 'SageMakerRole', {
      roleName: teamRoleName(env, 'sagemaker', team),
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker training jobs of team ${team}`,
    });
    const logGroups = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/sagemaker/TrainingJobs:*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const vpcArn = stack.formatArn({ service: 'ec2', resource: 'vpc', resourceName: props.vpc.vpcId });
    const ec2Arn = (resource: string) => stack.formatArn({ service: 'ec2', resource, resourceName: '*' });
    const sageMakerPolicy = new iam.ManagedPolicy(this, 'SageMakerPolicy', {
      roles: [this.sageMakerRole],
      statements: [
        ...artifacts.readWriteStatements(prefix, key),
        // Encrypting EBS storage volumes (instance types without local NVMe) with the key goes through a grant.
        new iam.PolicyStatement({
          actions: ['kms:CreateGrant'],
          resources: [key.keyArn],
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
        new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        new iam.PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' } },
        }),
        new iam.PolicyStatement({
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [props.ecrRepositories],
        }),
        // VPC-mode training: interfaces only in Drivetrain's VPC (its subnets and security groups).
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:CreateNetworkInterfacePermission',
            'ec2:DeleteNetworkInterface',
            'ec2:DeleteNetworkInterfacePermission',
          ],
          resources: [ec2Arn('network-interface'), ec2Arn('subnet'), ec2Arn('security-group')],
          conditions: { ArnEquals: { 'ec2:Vpc': vpcArn } },
        }),
        new iam.PolicyStatement({
          actions: [
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
    acknowledgeWildcards(stack, sageMakerPolicy, {
      '*': 'ecr:GetAuthorizationToken and the EC2 Describe calls of VPC-mode training have no resource-level permissions; cloudwatch:PutMetricData is held to the SageMaker training namespace.',
      [logGroups]: 'SageMaker writes each training job to its own stream under this fixed log group.',
      [props.ecrRepositories]: 'Training images live under the drivetrain/ ECR namespace.',
      [objects]: `Team ${team}'s training jobs write output and checkpoints under its own prefix ${prefix} only.`,
      [ec2Arn('network-interface')]:
        "Interface ids are assigned at creation; every interface action is held to Drivetrain's VPC.",
      [ec2Arn('subnet')]: "Held to subnets of Drivetrain's VPC by the ec2:Vpc condition.",
      [ec2Arn('security-group')]: "Held to security groups of Drivetrain's VPC by the ec2:Vpc condition.",
    });
  }
}
