import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import { type CapacityPool, capacityPools } from '../../config/capacity';
import type { EnvironmentConfig, GpuFleet } from '../../config/schema';

/** GPU nodes carry `nvidia.com/gpu=present:NoSchedule`, so only pods that tolerate it land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present' } as const;
/** Node label with the fleet's GPU type (e.g. `a10g`), for GPU pods' node selectors. */
export const GPU_TYPE_LABEL = 'drivetrain/gpu-type';
/** Node label with `on-demand` or `spot`: with the GPU type it names the scheduler's pool. */
export const CAPACITY_TYPE_LABEL = 'drivetrain/capacity-type';
/** Node label with the scheduler's pool id (`eks-a10g-spot`). */
export const POOL_LABEL = 'drivetrain/pool';

/** Karpenter v1 API groups (karpenter.sh NodePool, karpenter.k8s.aws EC2NodeClass). */
const NODE_POOL_API = 'karpenter.sh/v1';
const NODE_CLASS_API = 'karpenter.k8s.aws/v1';

export interface NodeClassInput {
  readonly fleet: GpuFleet;
  /** Instance role of the nodes (its name, as EC2NodeClass `role` takes it). */
  readonly nodeRoleName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly clusterName: string;
}

/** `gpu-<fleet>`: one EC2NodeClass per fleet, shared by its on-demand and spot NodePools. */
export function nodeClassName(fleet: string): string {
  return `gpu-${fleet}`;
}

/**
 * The EC2NodeClass of a GPU fleet: the EKS-optimized AL2023 AMI (Karpenter's `al2023` alias
 * picks the NVIDIA variant for GPU instance types), IMDSv2 with a hop limit of 1 so pods
 * cannot borrow the node role, an encrypted gp3 root volume, and the local NVMe instance
 * stores striped as RAID0 for scratch (kubelet and containerd use it too).
 */
export function ec2NodeClass(input: NodeClassInput): Record<string, unknown> {
  return {
    apiVersion: NODE_CLASS_API,
    kind: 'EC2NodeClass',
    metadata: { name: nodeClassName(input.fleet.name) },
    spec: {
      role: input.nodeRoleName,
      amiSelectorTerms: [{ alias: 'al2023@latest' }],
      subnetSelectorTerms: input.subnetIds.map((id) => ({ id })),
      securityGroupSelectorTerms: input.securityGroupIds.map((id) => ({ id })),
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpProtocolIPv6: 'disabled',
        httpPutResponseHopLimit: 1,
        httpTokens: 'required',
      },
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          rootVolume: true,
          ebs: {
            volumeSize: `${input.fleet.rootVolumeGiB}Gi`,
            volumeType: 'gp3',
            encrypted: true,
            deleteOnTermination: true,
          },
        },
      ],
      instanceStorePolicy: 'RAID0',
      tags: { 'drivetrain:fleet': input.fleet.name, 'drivetrain:cluster': input.clusterName },
    },
  };
}

/** How long an empty GPU node lingers before Karpenter removes it. */
const EMPTY_NODE_GRACE = '10m';

/**
 * The NodePool of one EKS pool of the capacity model: the fleet's instance types bought one
 * way, labelled and tainted for the scheduler's pool, limited to the pool's nodes × the
 * largest instance's GPUs, vCPUs and memory. Disruption never kills running training: nodes
 * are consolidated only when empty, never expire, and at most 10% of a pool's nodes are
 * disrupted at once; gang pods also carry `karpenter.sh/do-not-disrupt`.
 */
export function nodePool(pool: CapacityPool, fleet: GpuFleet): Record<string, unknown> {
  const labels = {
    [GPU_TYPE_LABEL]: fleet.gpuType,
    [CAPACITY_TYPE_LABEL]: pool.capacityType,
    [POOL_LABEL]: pool.id,
    // The NVIDIA device plugin chart schedules only onto nodes with this label.
    'nvidia.com/gpu.present': 'true',
  };
  return {
    apiVersion: NODE_POOL_API,
    kind: 'NodePool',
    metadata: { name: pool.id },
    spec: {
      template: {
        metadata: { labels },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: nodeClassName(fleet.name) },
          requirements: [
            { key: 'node.kubernetes.io/instance-type', operator: 'In', values: [...fleet.instanceTypes] },
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: [pool.capacityType] },
            { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
          ],
          taints: [{ ...GPU_TAINT, effect: 'NoSchedule' }],
          // A training job may run for weeks; nodes are never replaced for age.
          expireAfter: 'Never',
        },
      },
      limits: {
        'nvidia.com/gpu': String(pool.nodeCount * pool.node.gpus),
        cpu: String(pool.nodeCount * pool.node.cpus),
        memory: `${Math.round((pool.nodeCount * pool.node.memoryMiB) / 1024)}Gi`,
      },
      disruption: {
        consolidationPolicy: 'WhenEmpty',
        consolidateAfter: EMPTY_NODE_GRACE,
        budgets: [{ nodes: '10%' }],
      },
    },
  };
}

/** The EKS pools of the capacity model with their fleets. */
export function eksGpuPools(config: EnvironmentConfig): { pool: CapacityPool; fleet: GpuFleet }[] {
  return capacityPools(config)
    .filter((pool) => pool.backend === 'eks')
    .map((pool) => ({ pool, fleet: config.gpuFleets.find((f) => f.name === pool.fleet)! }));
}

export interface GpuNodePoolsProps {
  readonly cluster: eks.ICluster;
  readonly config: EnvironmentConfig;
  readonly nodeRoleName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** EKS GPU capacity: an EC2NodeClass per fleet and a Karpenter NodePool per EKS pool of the capacity model. */
export class GpuNodePools extends Construct {
  public readonly manifest: eks.KubernetesManifest;
  public readonly nodeClasses: Record<string, unknown>[];
  public readonly nodePools: Record<string, unknown>[];

  constructor(scope: Construct, id: string, props: GpuNodePoolsProps) {
    super(scope, id);
    const pools = eksGpuPools(props.config);
    const fleets = [...new Map(pools.map(({ fleet }) => [fleet.name, fleet])).values()];
    this.nodeClasses = fleets.map((fleet) =>
      ec2NodeClass({
        fleet,
        nodeRoleName: props.nodeRoleName,
        subnetIds: props.subnetIds,
        securityGroupIds: props.securityGroupIds,
        clusterName: props.cluster.clusterName,
      }),
    );
    this.nodePools = pools.map(({ pool, fleet }) => nodePool(pool, fleet));
    this.manifest = new eks.KubernetesManifest(this, 'Resource', {
      cluster: props.cluster,
      manifest: [...this.nodeClasses, ...this.nodePools],
    });
  }
}
