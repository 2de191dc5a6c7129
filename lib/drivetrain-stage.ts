import { Annotations, Stage, type StageProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { ComputeStack } from './compute-stack';
import { DataStack } from './data-stack';
import { FeaturesStack } from './features-stack';
import { KubernetesStack } from './kubernetes-stack';
import { NetworkStack } from './network-stack';
import { SchedulingStack } from './scheduling-stack';

export interface DrivetrainStageProps extends StageProps {
  readonly config: EnvironmentConfig;
}

/** One deployable environment: its stacks are named Drivetrain-<env>-<Pillar>. */
export class DrivetrainStage extends Stage {
  public readonly network: NetworkStack;
  public readonly compute: ComputeStack;
  public readonly kubernetes: KubernetesStack;
  public readonly scheduling: SchedulingStack;
  public readonly data: DataStack;
  public readonly features: FeaturesStack;

  constructor(scope: Construct, id: string, props: DrivetrainStageProps) {
    const { config } = props;
    super(scope, id, { ...props, env: { account: config.account, region: config.region } });
    const stackName = (pillar: string) => `Drivetrain-${config.name}-${pillar}`;

    this.network = new NetworkStack(this, 'Network', { stackName: stackName('Network'), config });
    this.compute = new ComputeStack(this, 'Compute', {
      stackName: stackName('Compute'),
      config,
      vpc: this.network.vpc,
    });
    this.kubernetes = new KubernetesStack(this, 'Kubernetes', {
      stackName: stackName('Kubernetes'),
      config,
      vpc: this.network.vpc,
    });
    this.scheduling = new SchedulingStack(this, 'Scheduling', {
      stackName: stackName('Scheduling'),
      config,
      vpc: this.network.vpc,
      compute: this.compute,
      kubernetes: this.kubernetes,
    });
    this.data = new DataStack(this, 'Data', { stackName: stackName('Data'), config, vpc: this.network.vpc });

    this.features = new FeaturesStack(this, 'Features', {
      stackName: stackName('Features'),
      config,
      vpc: this.network.vpc,
      // Feature views read the ETL tables: their database, and the curated warehouse and its key.
      etl: {
        databaseName: this.data.databaseName,
        bucketName: this.data.buckets.names.curated,
        key: this.data.key,
      },
    });

    checkTeamPrincipals(this, config);

    Tags.of(this).add('drivetrain:environment', config.name);
    Tags.of(this).add('drivetrain:managed-by', 'cdk');
  }
}

/**
 * A team without principals cannot call the job API (every request is 403/401): staging and
 * prod refuse to synthesize, naming the teams; dev, mostly run locally, only warns.
 */
function checkTeamPrincipals(stage: Stage, config: EnvironmentConfig): void {
  const missing = config.teams.filter((team) => team.principals.length === 0).map((team) => team.name);
  if (missing.length === 0) return;
  const message = `teams without principals in config (${config.name}): ${missing.join(', ')}; nobody can act as them on the job API. Set teams[].principals or DRIVETRAIN_${config.name.toUpperCase()}_<TEAM>_PRINCIPALS`;
  if (config.name === 'dev') Annotations.of(stage).addWarningV2('drivetrain:team-principals', message);
  else stage.node.addValidation({ validate: () => [message] });
}
