import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { multiNodeSubnetIndex } from '../config/capacity';
import { BATCH_JOB_QUEUE_QUOTA, planQueues, type QueueCapacity, type QueuePlan } from '../config/queues';
import type { EnvironmentConfig } from '../config/schema';
import { ArtifactStore } from './compute/artifact-store';
import { FleetComputeEnvironments } from './compute/fleet-compute-environments';
import { SageMakerTraining } from './compute/sagemaker-training';
import { TeamRoles } from './compute/team-roles';
import { TrainingJobDefinitions } from './compute/training-job-definitions';
import { encryptionKey } from './encryption-key';
import { acknowledge, acknowledgeWildcards, SELF_REFERENCING_ALL_TRAFFIC } from './nag';

export interface ComputeStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly vpc: ec2.IVpc;
}

/**
 * GPU and CPU compute on AWS Batch (on-demand, spot and EFA multi-node environments,
 * one queue per environment under one fair-share policy, base job definitions) plus the
 * SageMaker training resources the scheduler uses as its third backend.
 */
export class ComputeStack extends Stack {
  public readonly key: kms.Key;
  public readonly artifacts: ArtifactStore;
  public readonly queues = new Map<string, batch.JobQueue>();
  public readonly queuePlans: QueuePlan[];
  /** Base job definitions per team, each running as that team's job role. */
  public readonly jobDefinitions = new Map<string, TrainingJobDefinitions>();
  /** Per-team job credentials (Batch job role, SageMaker execution role). */
  public readonly teamRoles = new Map<string, TeamRoles>();
  public readonly fairshare: batch.FairshareSchedulingPolicy;
  public readonly sagemaker: SageMakerTraining;
  /** Where Batch jobs' container output goes; the job API reads it for `drivetrain logs`. */
  public readonly jobLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = encryptionKey(this, 'Key', {
      description: `Drivetrain ${config.name} compute: artifacts, job logs, SageMaker volumes`,
      removalPolicy,
    });
    this.artifacts = new ArtifactStore(this, 'ArtifactStore', {
      bucketName: `drivetrain-${config.name}-artifacts-${this.account}-${this.region}`,
      encryptionKey: this.key,
      removalPolicy,
    });

    const nodes = new ec2.SecurityGroup(this, 'NodeSecurityGroup', {
      vpc,
      description:
        'Batch GPU/CPU nodes: all traffic within the group (NCCL, EFA), egress for images and AWS APIs',
      allowAllOutbound: true,
    });
    // EFA and NCCL need every port between nodes of one job.
    nodes.addIngressRule(nodes, ec2.Port.allTraffic(), 'NCCL and EFA between nodes of a gang job');
    acknowledge(nodes, { 'NIST.800.53.R5-EC2RestrictedCommonPorts': SELF_REFERENCING_ALL_TRAFFIC });

    const instanceRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'ECS agent on Batch nodes',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role'),
      ],
    });
    acknowledge(instanceRole, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]':
        "The ECS agent on Batch nodes needs this AWS-maintained policy; AWS updates it as the agent changes. Containers get their team's job role from the ECS agent; the metadata hop limit of 1 keeps bridge-networked containers from the instance's credentials.",
    });

    const environments = new Map<string, Map<QueueCapacity, batch.IManagedComputeEnvironment>>();
    for (const fleet of [...config.gpuFleets, { name: 'cpu' as const, ...config.cpuFleet }]) {
      const computed = new FleetComputeEnvironments(this, `Fleet-${fleet.name}`, {
        env: config.name,
        vpc,
        securityGroup: nodes,
        instanceRole,
        fleet,
        multiNodeSubnet: multiNodeSubnetIndex(config, fleet.name),
      });
      environments.set(fleet.name, computed.byCapacity);
    }

    // Batch weightFactor is inverse: a lower factor means a larger share.
    const maxWeight = Math.max(...config.teams.map((t) => t.weight));
    this.fairshare = new batch.FairshareSchedulingPolicy(this, 'Fairshare', {
      schedulingPolicyName: `drivetrain-${config.name}-fairshare`,
      shareDecay: Duration.seconds(config.batch.shareDecaySeconds),
      computeReservation: config.batch.computeReservation,
      shares: config.teams.map((team) => ({
        shareIdentifier: team.name,
        weightFactor: Number((maxWeight / team.weight).toFixed(4)),
      })),
    });

    this.queuePlans = planQueues(config);
    if (this.queuePlans.length > BATCH_JOB_QUEUE_QUOTA) {
      this.node.addValidation({
        validate: () => [
          `${this.queuePlans.length} job queues exceed the Batch quota of ${BATCH_JOB_QUEUE_QUOTA}; raise the quota or merge fleets`,
        ],
      });
    }
    for (const plan of this.queuePlans) {
      const byCapacity = environments.get(plan.fleet)!;
      this.queues.set(
        plan.name,
        new batch.JobQueue(this, `Queue-${plan.name}`, {
          jobQueueName: plan.name,
          // Each queue has one compute environment of its own, so queue priority never arbitrates.
          priority: 1,
          schedulingPolicy: this.fairshare,
          computeEnvironments: [{ computeEnvironment: byCapacity.get(plan.capacity)!, order: 1 }],
          // A job whose resources no environment can ever satisfy fails fast with a reason.
          jobStateTimeLimitActions: [
            {
              action: batch.JobStateTimeLimitActionsAction.CANCEL,
              maxTime: Duration.minutes(10),
              reason: batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
              state: batch.JobStateTimeLimitActionsState.RUNNABLE,
            },
            {
              action: batch.JobStateTimeLimitActionsAction.CANCEL,
              maxTime: Duration.minutes(10),
              reason: batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
              state: batch.JobStateTimeLimitActionsState.RUNNABLE,
            },
          ],
        }),
      );
    }

    this.jobLogs = new logs.LogGroup(this, 'JobLogs', {
      logGroupName: `/drivetrain/${config.name}/batch`,
      encryptionKey: this.key,
      retention: logs.RetentionDays.SIX_MONTHS,
      removalPolicy,
    });
    const jobLogs = this.jobLogs;
    const ecrRepositories = this.formatArn({
      service: 'ecr',
      resource: 'repository',
      resourceName: 'drivetrain/*',
    });
    const executionRole = new iam.Role(this, 'JobExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Pulls job images and writes job logs',
    });
    const executionPolicy = new iam.ManagedPolicy(this, 'JobExecutionPolicy', {
      roles: [executionRole],
      statements: [
        new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
        new iam.PolicyStatement({
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [ecrRepositories],
        }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${jobLogs.logGroupArn}`],
        }),
      ],
    });
    acknowledgeWildcards(this, executionPolicy, {
      '*': 'ecr:GetAuthorizationToken has no resource-level permissions; pulls are limited to drivetrain/* repositories.',
      [ecrRepositories]:
        'Job images live under the drivetrain/ ECR namespace, one repository per team or project.',
    });

    acknowledge(executionRole, {
      'NIST.800.53.R5-IAMNoInlinePolicy':
        "Holds only the log-write grant CDK's container definition adds for the job log group; everything else is in JobExecutionPolicy.",
    });

    for (const team of config.teams) {
      const roles = new TeamRoles(this, `Team-${team.name}`, {
        env: config.name,
        team: team.name,
        artifacts: this.artifacts,
        key: this.key,
        ecrRepositories,
        vpc,
      });
      this.teamRoles.set(team.name, roles);
      this.jobDefinitions.set(
        team.name,
        new TrainingJobDefinitions(this, `JobDefinitions-${team.name}`, {
          config,
          team: team.name,
          jobRole: roles.batchJobRole,
          executionRole,
          logGroup: jobLogs,
        }),
      );
    }

    this.sagemaker = new SageMakerTraining(this, 'SageMaker', {
      env: config.name,
      vpc,
      artifacts: this.artifacts,
    });
  }
}
