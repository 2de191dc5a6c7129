import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { acknowledge, SELF_REFERENCING_ALL_TRAFFIC } from '../nag';
import type { ArtifactStore } from './artifact-store';
import { teamRoleName } from './team-roles';

export interface SageMakerTrainingProps {
  readonly env: string;
  readonly vpc: ec2.IVpc;
  readonly artifacts: ArtifactStore;
}

/** Placeholder the SageMaker backend replaces with the job's team (backends/sagemaker.ts). */
export const TEAM_PLACEHOLDER = '{team}';

/**
 * What the scheduler needs to launch SageMaker training jobs besides the per-team execution
 * roles (TeamRoles): a security group for VPC-mode jobs (inter-node traffic for distributed
 * training), and the per-team S3 locations for output and checkpoints, as templates with a
 * `{team}` placeholder.
 */
export class SageMakerTraining extends Construct {
  public readonly securityGroup: ec2.SecurityGroup;
  /** `s3://<bucket>/teams/{team}/outputs/sagemaker`. */
  public readonly outputUri: string;
  /** `s3://<bucket>/teams/{team}`; each job checkpoints under `<job id>/` below it. */
  public readonly checkpointUri: string;
  /**
   * `s3://<bucket>/teams`: the dispatcher's checkpoint store puts `<team>/<job id>/` below it
   * (jobs/store/s3-checkpoint-store.ts), the same place as `checkpointUri`.
   */
  public readonly checkpointRootUri: string;
  /** ARN of the team's execution role, with `{team}` for the team. */
  public readonly roleArnTemplate: string;

  constructor(scope: Construct, id: string, props: SageMakerTrainingProps) {
    super(scope, id);
    const { bucket } = props.artifacts;
    const prefix = props.artifacts.teamPrefix(TEAM_PLACEHOLDER);
    this.outputUri = bucket.s3UrlForObject(`${prefix}outputs/sagemaker`);
    this.checkpointUri = bucket.s3UrlForObject(prefix.replace(/\/$/, ''));
    this.checkpointRootUri = bucket.s3UrlForObject(props.artifacts.teamPrefix('').replace(/\/+$/, ''));
    this.roleArnTemplate = Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: teamRoleName(props.env, 'sagemaker', TEAM_PLACEHOLDER),
    });

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

    new CfnOutput(this, 'ExecutionRoleArnTemplate', { value: this.roleArnTemplate });
    new CfnOutput(this, 'OutputUri', { value: this.outputUri });
    new CfnOutput(this, 'CheckpointUri', { value: this.checkpointUri });
  }
}
