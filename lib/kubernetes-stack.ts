import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { ClusterAddOns } from './kubernetes/cluster-add-ons';
import { GpuNodegroups } from './kubernetes/gpu-nodegroups';
import { NodeLaunchTemplate } from './kubernetes/node-launch-template';
import { NodeRole } from './kubernetes/node-role';
import { TeamNamespace } from './kubernetes/team-namespace';

export interface KubernetesStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The cluster and its nodes go into this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
}

type KubernetesVersion = EnvironmentConfig['eks']['kubernetesVersion'];

/** kubectl and helm in the provider Lambda must match the cluster's minor version. */
const KUBECTL_LAYERS: Record<KubernetesVersion, new (scope: Construct, id: string) => lambda.ILayerVersion> = {
  '1.34': KubectlV34Layer,
};

/**
 * GPU compute on EKS: a private cluster with audited control-plane logs and KMS-encrypted
 * secrets, a system node group, on-demand and spot GPU node groups per configured fleet,
 * the NVIDIA device plugin and KubeRay operator, and one quota-bound namespace per team.
 */
export class KubernetesStack extends Stack {
  public readonly cluster: eks.Cluster;
  public readonly secretsKey: kms.Key;
  /** GPU node groups by fleet name. */
  public readonly gpuNodegroups = new Map<string, GpuNodegroups>();
  public readonly addOns: ClusterAddOns;
  /** Team namespaces by team name. */
  public readonly teamNamespaces = new Map<string, TeamNamespace>();

  constructor(scope: Construct, id: string, props: KubernetesStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const { eks: eksConfig } = config;

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Drivetrain ${config.name} EKS secrets envelope encryption`,
      enableKeyRotation: true,
      removalPolicy: config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    const KubectlLayer = KUBECTL_LAYERS[eksConfig.kubernetesVersion];
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: `drivetrain-${config.name}`,
      version: eks.KubernetesVersion.of(eksConfig.kubernetesVersion),
      vpc,
      vpcSubnets: [{ subnets: vpc.privateSubnets }],
      // The API server is reachable from inside the VPC only; the kubectl Lambda runs there too.
      endpointAccess: eks.EndpointAccess.PRIVATE,
      secretsEncryptionKey: this.secretsKey,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      // Managed node groups below, not Auto Mode: GPU node groups need the NVIDIA AMI and taints.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      // Admins come from access entries only, not from whoever ran the deployment.
      bootstrapClusterCreatorAdminPermissions: false,
      kubectlProviderOptions: { kubectlLayer: new KubectlLayer(this, 'KubectlLayer') },
    });

    for (const roleArn of eksConfig.adminRoleArns) {
      // Keyed by role name, not list position: reordering the list must not recreate entries.
      this.cluster.grantClusterAdmin(`Admin-${roleArn.split('/').pop()}`, roleArn);
    }

    const nodeRole = new NodeRole(this, 'NodeRole').role;
    const { systemNodes } = eksConfig;
    this.cluster.addNodegroupCapacity('SystemNodes', {
      nodeRole,
      instanceTypes: [new ec2.InstanceType(systemNodes.instanceType)],
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      launchTemplateSpec: new NodeLaunchTemplate(this, 'SystemLaunchTemplate', { rootVolumeGiB: 100 }).spec,
      minSize: systemNodes.min,
      desiredSize: systemNodes.min,
      maxSize: systemNodes.max,
      labels: { 'drivetrain/node-role': 'system' },
    });

    for (const fleetName of eksConfig.gpuFleets) {
      // The schema guarantees every listed fleet exists.
      const fleet = config.gpuFleets.find((f) => f.name === fleetName)!;
      this.gpuNodegroups.set(
        fleetName,
        new GpuNodegroups(this, `Gpu-${fleetName}`, {
          cluster: this.cluster,
          fleet,
          maxNodes: eksConfig.maxGpuNodesPerGroup,
          nodeRole,
        }),
      );
    }

    this.addOns = new ClusterAddOns(this, 'AddOns', {
      cluster: this.cluster,
      nvidiaDevicePluginVersion: eksConfig.nvidiaDevicePluginVersion,
      kuberayVersion: eksConfig.kuberayVersion,
    });

    for (const team of config.teams) {
      this.teamNamespaces.set(team.name, new TeamNamespace(this, `Team-${team.name}`, { cluster: this.cluster, team }));
    }
  }
}
