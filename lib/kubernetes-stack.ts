import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema';
import { encryptionKey } from './encryption-key';
import { ClusterAddOns } from './kubernetes/cluster-add-ons';
import { GpuNodePools } from './kubernetes/gpu-node-pools';
import { Karpenter } from './kubernetes/karpenter';
import { NodeLaunchTemplate } from './kubernetes/node-launch-template';
import { NodeRole } from './kubernetes/node-role';
import { PrivateCluster } from './kubernetes/private-cluster';
import { TeamNamespace } from './kubernetes/team-namespace';

export interface KubernetesStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The cluster and its nodes go into this VPC's private subnets. */
  readonly vpc: ec2.IVpc;
}

/** Label of the system nodes, where Karpenter, CoreDNS and the operators run. */
const NODE_ROLE_LABEL = 'drivetrain/node-role';

/** System pods (CoreDNS, KubeRay operator) need no room for large images. */
const SYSTEM_ROOT_VOLUME_GIB = 100;

/**
 * GPU compute on EKS: a private cluster with audited control-plane logs and KMS-encrypted
 * secrets, a system node group running Karpenter, Karpenter NodePools (on-demand and spot
 * per configured fleet, limits from the capacity model) that launch GPU nodes on demand,
 * the NVIDIA device plugin and KubeRay operator, and one quota-bound namespace per team.
 */
export class KubernetesStack extends Stack {
  /** Encrypts Kubernetes secrets and the cluster's log groups. */
  public readonly key: kms.Key;
  public readonly cluster: eks.Cluster;
  /** Karpenter, which launches the GPU nodes. */
  public readonly karpenter: Karpenter;
  /** EC2NodeClasses and NodePools: the EKS pools of the capacity model. */
  public readonly gpuNodePools: GpuNodePools;
  public readonly addOns: ClusterAddOns;
  /** Team namespaces by team name. */
  public readonly teamNamespaces = new Map<string, TeamNamespace>();

  constructor(scope: Construct, id: string, props: KubernetesStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const { eks: eksConfig } = config;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.key = encryptionKey(this, 'Key', {
      description: `Drivetrain ${config.name} EKS: secrets envelope encryption, control-plane and kubectl logs`,
      removalPolicy,
    });

    this.cluster = new PrivateCluster(this, 'Cluster', {
      clusterName: `drivetrain-${config.name}`,
      version: eksConfig.kubernetesVersion,
      vpc,
      key: this.key,
      // Audit logs are the record of who did what in the cluster; keep a year of them.
      logRetention: logs.RetentionDays.ONE_YEAR,
      removalPolicy,
      adminRoleArns: eksConfig.adminRoleArns,
    }).cluster;

    const nodeRole = new NodeRole(this, 'NodeRole').role;
    const { systemNodes } = eksConfig;
    this.cluster.addNodegroupCapacity('SystemNodes', {
      nodeRole,
      instanceTypes: [new ec2.InstanceType(systemNodes.instanceType)],
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      launchTemplateSpec: new NodeLaunchTemplate(this, 'SystemLaunchTemplate', {
        rootVolumeGiB: SYSTEM_ROOT_VOLUME_GIB,
      }).spec,
      minSize: systemNodes.min,
      desiredSize: systemNodes.min,
      maxSize: systemNodes.max,
      labels: { [NODE_ROLE_LABEL]: 'system' },
    });

    const systemNodeSelector = { [NODE_ROLE_LABEL]: 'system' };
    this.karpenter = new Karpenter(this, 'Karpenter', {
      cluster: this.cluster,
      clusterName: `drivetrain-${config.name}`,
      version: eksConfig.karpenterVersion,
      nodeRole,
      systemNodeSelector,
    });
    this.gpuNodePools = new GpuNodePools(this, 'GpuNodePools', {
      cluster: this.cluster,
      config,
      nodeRoleName: nodeRole.roleName,
      subnetIds: vpc.privateSubnets.map((subnet) => subnet.subnetId),
      securityGroupIds: [this.cluster.clusterSecurityGroupId],
    });
    // The NodePool and EC2NodeClass kinds come with the chart's CRDs.
    this.gpuNodePools.manifest.node.addDependency(this.karpenter.chart);

    this.addOns = new ClusterAddOns(this, 'AddOns', {
      cluster: this.cluster,
      nvidiaDevicePluginVersion: eksConfig.nvidiaDevicePluginVersion,
      kuberayVersion: eksConfig.kuberayVersion,
    });

    for (const team of config.teams) {
      this.teamNamespaces.set(
        team.name,
        new TeamNamespace(this, `Team-${team.name}`, { cluster: this.cluster, team }),
      );
    }
  }
}
