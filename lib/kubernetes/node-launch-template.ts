import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';

export interface NodeLaunchTemplateProps {
  /** Root volume size in GiB; GPU nodes cache several 10-20 GiB CUDA images. */
  readonly rootVolumeGiB: number;
}

/**
 * Launch template for EKS managed nodes: IMDSv2 only, with a hop limit of 1 so pods cannot
 * borrow the node role (they get AWS access through their own service-account identity),
 * and an encrypted gp3 root volume. It sets no AMI, user data or instance profile: the
 * managed node group supplies those from its AMI type and node role.
 */
export class NodeLaunchTemplate extends Construct {
  public readonly launchTemplate: ec2.LaunchTemplate;
  /** The template as a managed node group references it. */
  public readonly spec: eks.LaunchTemplateSpec;

  constructor(scope: Construct, id: string, props: NodeLaunchTemplateProps) {
    super(scope, id);
    this.launchTemplate = new ec2.LaunchTemplate(this, 'Resource', {
      requireImdsv2: true,
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          // The root device of the EKS-optimized AL2023 AMIs.
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    this.spec = {
      id: this.launchTemplate.launchTemplateId!,
      version: this.launchTemplate.latestVersionNumber,
    };
  }
}
