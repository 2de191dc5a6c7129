import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { INSTANCE_TYPES } from '../../config/instance-types';
import type { QueueCapacity } from '../../config/queues';
import type { EnvironmentConfig, GpuFleet } from '../../config/schema';
import { GpuLaunchTemplate } from './gpu-launch-template';

export interface FleetComputeEnvironmentsProps {
  readonly env: EnvironmentConfig['name'];
  readonly vpc: ec2.IVpc;
  /** Node security group; it must allow all traffic from itself for NCCL and EFA. */
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceRole: iam.IRole;
  /** Index of the private subnet of the multi-node environment (config/capacity multiNodeSubnetIndex). */
  readonly multiNodeSubnet: number;
  /** GPU fleet, or the CPU fleet's instance classes. */
  readonly fleet:
    | GpuFleet
    | ({ readonly name: 'cpu'; readonly instanceClasses: readonly string[] } & Capacity);
}

interface Capacity {
  readonly onDemandMaxVcpus: number;
  readonly spotMaxVcpus: number;
}

/**
 * The Batch compute environments of one fleet: on-demand, spot (price-capacity optimised)
 * and, for EFA fleets, an on-demand multi-node environment in one AZ with a cluster
 * placement group (Batch runs multi-node parallel jobs only on on-demand capacity).
 */
export class FleetComputeEnvironments extends Construct {
  public readonly byCapacity = new Map<QueueCapacity, batch.IManagedComputeEnvironment>();

  constructor(scope: Construct, id: string, props: FleetComputeEnvironmentsProps) {
    super(scope, id);
    const { fleet } = props;
    const isGpu = 'gpuType' in fleet;
    const images = [
      {
        imageType: isGpu ? batch.EcsMachineImageType.ECS_AL2023_NVIDIA : batch.EcsMachineImageType.ECS_AL2023,
      },
    ];
    const instanceTypes = isGpu ? fleet.instanceTypes.map((t) => new ec2.InstanceType(t)) : [];
    const instanceClasses = isGpu ? [] : (fleet.instanceClasses as ec2.InstanceClass[]);
    const template = new GpuLaunchTemplate(this, 'LaunchTemplate', {
      rootVolumeGiB: isGpu ? fleet.rootVolumeGiB : 200,
    }).launchTemplate;
    const common = {
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      instanceRole: props.instanceRole,
      images,
      instanceTypes,
      instanceClasses,
      useOptimalInstanceClasses: false,
      launchTemplate: template,
      minvCpus: 0,
      updateToLatestImageVersion: true,
      // Running jobs keep their nodes through an update; new nodes get the new settings.
      terminateOnUpdate: false,
      replaceComputeEnvironment: false,
    };

    if (fleet.onDemandMaxVcpus > 0) {
      this.byCapacity.set(
        'on-demand',
        new batch.ManagedEc2EcsComputeEnvironment(this, 'OnDemand', {
          ...common,
          computeEnvironmentName: `drivetrain-${props.env}-${fleet.name}-on-demand`,
          securityGroups: [props.securityGroup],
          maxvCpus: fleet.onDemandMaxVcpus,
          allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        }),
      );
    }
    if (fleet.spotMaxVcpus > 0) {
      this.byCapacity.set(
        'spot',
        new batch.ManagedEc2EcsComputeEnvironment(this, 'Spot', {
          ...common,
          computeEnvironmentName: `drivetrain-${props.env}-${fleet.name}-spot`,
          securityGroups: [props.securityGroup],
          spot: true,
          maxvCpus: fleet.spotMaxVcpus,
          allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
        }),
      );
    }
    if (isGpu && fleet.multiNode) {
      const placementGroup = new ec2.PlacementGroup(this, 'PlacementGroup', {
        strategy: ec2.PlacementGroupStrategy.CLUSTER,
      });
      const efaTemplate = new GpuLaunchTemplate(this, 'EfaLaunchTemplate', {
        rootVolumeGiB: fleet.rootVolumeGiB,
        efa: {
          interfaces: fleet.multiNode.efaInterfaces,
          securityGroup: props.securityGroup,
          efaOnly: INSTANCE_TYPES[fleet.multiNode.instanceType]?.efaOnly ?? false,
        },
      }).launchTemplate;
      this.byCapacity.set(
        'multi-node',
        new batch.ManagedEc2EcsComputeEnvironment(this, 'MultiNode', {
          ...common,
          computeEnvironmentName: `drivetrain-${props.env}-${fleet.name}-multi-node`,
          // A cluster placement group lives in one AZ; EFA fleets take turns over the zones.
          vpcSubnets: {
            subnets: [props.vpc.privateSubnets[props.multiNodeSubnet % props.vpc.privateSubnets.length]!],
          },
          // Groups are on the EFA interfaces of the launch template instead.
          securityGroups: [],
          instanceTypes: [new ec2.InstanceType(fleet.multiNode.instanceType)],
          launchTemplate: efaTemplate,
          placementGroup,
          maxvCpus: fleet.multiNode.maxVcpus,
          allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        }),
      );
    }
  }
}
