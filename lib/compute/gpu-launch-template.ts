import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface GpuLaunchTemplateProps {
  /** Root volume size: CUDA images are 10-20 GiB each and nodes cache several. */
  readonly rootVolumeGiB: number;
  /**
   * EFA interfaces, one per network card. When set, security groups are attached to the
   * interfaces, because EC2 rejects template-level groups alongside network interfaces.
   * @default - no EFA; security groups come from the compute environment
   */
  readonly efa?: {
    readonly interfaces: number;
    readonly securityGroup: ec2.ISecurityGroup;
    /** The instance type supports EFA-only interfaces, which take no IP address. */
    readonly efaOnly: boolean;
  };
}

/**
 * Launch template for Batch GPU nodes: IMDSv2 only with a hop limit of 1, so containers (one
 * hop past the host in bridge networking) cannot reach the instance role and get only their
 * team's job role from the ECS agent; encrypted gp3 root volume; optional EFA interfaces.
 */
export class GpuLaunchTemplate extends Construct {
  public readonly launchTemplate: ec2.LaunchTemplate;

  constructor(scope: Construct, id: string, props: GpuLaunchTemplateProps) {
    super(scope, id);
    this.launchTemplate = new ec2.LaunchTemplate(this, 'Resource', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      instanceMetadataTags: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            iops: 6_000,
            throughput: 500,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    if (props.efa) {
      const cfn = this.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
      cfn.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', efaInterfaces(props.efa));
    }
  }
}

/**
 * One EFA per network card, as EC2 recommends for multi-card instances
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html): the primary
 * interface (card 0, device 0) is EFA with ENA and carries the node's one IP address; each
 * further card gets an EFA-only interface at device 0, which takes no address, where the type
 * supports it (p5), else an EFA with ENA at device 1, which takes one (p4d).
 */
export function efaInterfaces(efa: NonNullable<GpuLaunchTemplateProps['efa']>): Record<string, unknown>[] {
  return Array.from({ length: efa.interfaces }, (_, card) => ({
    NetworkCardIndex: card,
    DeviceIndex: card === 0 || efa.efaOnly ? 0 : 1,
    InterfaceType: card === 0 || !efa.efaOnly ? 'efa' : 'efa-only',
    Groups: [efa.securityGroup.securityGroupId],
    DeleteOnTermination: true,
  }));
}
