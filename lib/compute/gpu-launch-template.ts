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
  readonly efa?: { readonly interfaces: number; readonly securityGroup: ec2.ISecurityGroup };
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
      const { interfaces, securityGroup } = props.efa;
      const cfn = this.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
      cfn.addPropertyOverride(
        'LaunchTemplateData.NetworkInterfaces',
        Array.from({ length: interfaces }, (_, card) => ({
          NetworkCardIndex: card,
          // Only the first interface carries IP traffic; the rest are EFA devices on their own cards.
          DeviceIndex: card === 0 ? 0 : 1,
          InterfaceType: 'efa',
          Groups: [securityGroup.securityGroupId],
          DeleteOnTermination: true,
        })),
      );
    }
  }
}
