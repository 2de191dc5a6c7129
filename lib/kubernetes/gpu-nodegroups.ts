import * as eks from 'aws-cdk-lib/aws-eks-v2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type CapacityType, capacityTypes, type GpuFleet } from '../../config/schema';
import { NodeLaunchTemplate } from './node-launch-template';

/** GPU nodes carry `nvidia.com/gpu=present:NoSchedule`, so only pods that tolerate it land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'present' } as const;

/** Node label with the fleet's GPU type (e.g. `a10g`), for GPU pods' node selectors. */
export const GPU_TYPE_LABEL = 'drivetrain/gpu-type';
/** Node label with `on-demand` or `spot`, so preemptible work can prefer spot and critical work avoid it. */
export const CAPACITY_TYPE_LABEL = 'drivetrain/capacity-type';

const EKS_CAPACITY: Record<CapacityType, eks.CapacityType> = {
  'on-demand': eks.CapacityType.ON_DEMAND,
  spot: eks.CapacityType.SPOT,
};

export interface GpuNodegroupsProps {
  readonly cluster: eks.ICluster;
  /** The fleet whose instance types and root volume size the nodes use. */
  readonly fleet: GpuFleet;
  /** Upper bound of each node group (none where 0); both start and idle at zero nodes. */
  readonly maxNodes: Record<CapacityType, number>;
  readonly nodeRole: iam.IRole;
}

/**
 * The EKS managed node groups of one GPU fleet: on-demand, and spot where the fleet buys spot, on the
 * EKS-optimized AL2023 NVIDIA AMI (driver and container toolkit included), tainted for
 * GPU work only and labelled with GPU and capacity type.
 */
export class GpuNodegroups extends Construct {
  public readonly byCapacity = new Map<CapacityType, eks.Nodegroup>();

  constructor(scope: Construct, id: string, props: GpuNodegroupsProps) {
    super(scope, id);
    const { fleet } = props;
    const launchTemplate = new NodeLaunchTemplate(this, 'LaunchTemplate', {
      rootVolumeGiB: fleet.rootVolumeGiB,
    });

    const offered = capacityTypes.filter((c) => props.maxNodes[c] > 0);
    for (const capacity of offered) {
      // No nodegroupName: instance type or AMI changes replace the group, which a fixed name would block.
      const nodegroup = new eks.Nodegroup(this, capacity === 'spot' ? 'Spot' : 'OnDemand', {
        cluster: props.cluster,
        nodeRole: props.nodeRole,
        capacityType: EKS_CAPACITY[capacity],
        amiType: eks.NodegroupAmiType.AL2023_X86_64_NVIDIA,
        launchTemplateSpec: launchTemplate.spec,
        minSize: 0,
        desiredSize: 0,
        maxSize: props.maxNodes[capacity],
        labels: {
          [GPU_TYPE_LABEL]: fleet.gpuType,
          [CAPACITY_TYPE_LABEL]: capacity,
          // The device plugin chart schedules only onto nodes with this label (or NFD's PCI label).
          'nvidia.com/gpu.present': 'true',
        },
        taints: [{ ...GPU_TAINT, effect: eks.TaintEffect.NO_SCHEDULE }],
      });
      // Set on the L1: the L2's list of GPU families lacks p5, so its architecture check
      // would reject the NVIDIA AMI for h100 nodes.
      (nodegroup.node.defaultChild as eks.CfnNodegroup).instanceTypes = fleet.instanceTypes;
      this.byCapacity.set(capacity, nodegroup);
    }
  }
}
