import { Duration, Size } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../../config/schema';
import { vcpusPerGpuOf } from '../../config/schema';

export interface TrainingJobDefinitionsProps {
  readonly config: EnvironmentConfig;
  readonly jobRole: iam.IRole;
  readonly executionRole: iam.IRole;
  readonly logGroup: logs.ILogGroup;
}

/**
 * Retry what the platform broke, not what the job broke: spot reclaims and host failures
 * surface as status reasons starting with "Host EC2"; anything else is the application's
 * own error and retrying would only burn GPU hours.
 */
export function retryOnHostFailureOnly(): batch.RetryStrategy[] {
  return [
    batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Host EC2*' })),
    batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
  ];
}

/** Every node of the gang, however many SubmitJob asks for. */
export const OPEN_NODE_RANGE = '0:';

/** NCCL and PyTorch data loaders need pinned memory, many files and a large stack. */
const TRAINING_ULIMITS: batch.Ulimit[] = [
  { name: batch.UlimitName.MEMLOCK, softLimit: -1, hardLimit: -1 },
  { name: batch.UlimitName.NOFILE, softLimit: 1_048_576, hardLimit: 1_048_576 },
  { name: batch.UlimitName.STACK, softLimit: 67_108_864, hardLimit: 67_108_864 },
];

/**
 * Base job definitions the dispatcher submits against, overriding image, command and
 * resources per job: one single-node GPU, one CPU, and one multi-node parallel definition
 * per EFA fleet.
 */
export class TrainingJobDefinitions extends Construct {
  public readonly singleNodeGpu: batch.EcsJobDefinition;
  public readonly cpu: batch.EcsJobDefinition;
  public readonly multiNode = new Map<string, batch.MultiNodeJobDefinition>();

  constructor(scope: Construct, id: string, props: TrainingJobDefinitionsProps) {
    super(scope, id);
    const { config } = props;
    const image = ecs.ContainerImage.fromRegistry(config.batch.defaultImage);
    const timeout = Duration.hours(config.batch.jobTimeoutHours);
    const logging = ecs.LogDriver.awsLogs({ logGroup: props.logGroup, streamPrefix: 'batch' });
    const container = (
      name: string,
      resources: { gpu?: number; cpu: number; memoryGiB: number },
      efa = 0,
    ) => {
      const linuxParameters = new batch.LinuxParameters(this, `${name}Linux`, {
        sharedMemorySize: Size.gibibytes(config.batch.sharedMemoryGiB),
        initProcessEnabled: true,
      });
      for (let device = 0; device < efa; device++) {
        const path = `/dev/infiniband/uverbs${device}`;
        linuxParameters.addDevices({
          hostPath: path,
          containerPath: path,
          permissions: [
            batch.DevicePermission.READ,
            batch.DevicePermission.WRITE,
            batch.DevicePermission.MKNOD,
          ],
        });
      }
      return new batch.EcsEc2ContainerDefinition(this, `${name}Container`, {
        image,
        gpu: resources.gpu,
        cpu: resources.cpu,
        memory: Size.gibibytes(resources.memoryGiB),
        jobRole: props.jobRole,
        executionRole: props.executionRole,
        linuxParameters,
        ulimits: TRAINING_ULIMITS,
        logging,
        privileged: false,
      });
    };
    const common = {
      timeout,
      retryAttempts: 3,
      retryStrategies: retryOnHostFailureOnly(),
      propagateTags: true,
      // Fair-share queues order within a share by this; the dispatcher overrides it per job.
      schedulingPriority: 0,
    };

    this.singleNodeGpu = new batch.EcsJobDefinition(this, 'SingleNodeGpu', {
      ...common,
      jobDefinitionName: `drivetrain-${config.name}-gpu`,
      container: container('SingleNodeGpu', { gpu: 1, cpu: 8, memoryGiB: 60 }),
    });
    this.cpu = new batch.EcsJobDefinition(this, 'Cpu', {
      ...common,
      jobDefinitionName: `drivetrain-${config.name}-cpu`,
      container: container('Cpu', { cpu: 4, memoryGiB: 16 }),
    });
    for (const fleet of config.gpuFleets) {
      if (!fleet.multiNode) continue;
      const name = `MultiNode${fleet.name.toUpperCase()}`;
      const gpus = fleet.gpusPerInstance;
      // Leave a tenth of each node to the ECS agent, the OS and the page cache.
      const cpu = Math.floor(gpus * vcpusPerGpuOf(fleet) * 0.9);
      const definition = new batch.MultiNodeJobDefinition(this, name, {
        ...common,
        jobDefinitionName: `drivetrain-${config.name}-${fleet.name}-multi-node`,
        instanceType: new ec2.InstanceType(fleet.multiNode.instanceType),
        mainNode: 0,
        containers: [
          {
            startNode: 0,
            endNode: 1,
            container: container(name, { gpu: gpus, cpu, memoryGiB: 900 }, fleet.multiNode.efaInterfaces),
          },
        ],
      });
      // One open-ended range ("0:"), which Batch requires before SubmitJob may override numNodes
      // (https://docs.aws.amazon.com/batch/latest/APIReference/API_NodeOverrides.html); the
      // L2 writes closed ranges only. NumNodes is the default gang of two.
      const cfn = definition.node.defaultChild as batch.CfnJobDefinition;
      cfn.addPropertyOverride('NodeProperties.NodeRangeProperties.0.TargetNodes', OPEN_NODE_RANGE);
      // The Batch API's device permissions are READ, WRITE and MKNOD; the L2 writes them in lower case.
      for (let device = 0; device < fleet.multiNode.efaInterfaces; device++) {
        cfn.addPropertyOverride(
          `NodeProperties.NodeRangeProperties.0.Container.LinuxParameters.Devices.${device}.Permissions`,
          ['READ', 'WRITE', 'MKNOD'],
        );
      }
      this.multiNode.set(fleet.name, definition);
    }
  }
}
