import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentConfig } from '../../config/schema';
import { createDrivetrainApp } from '../../lib/drivetrain-app';
import { securityRulePacks } from '../../lib/nag';

const ADMIN_ROLE_ARN = 'arn:aws:iam::111111111111:role/platform-admin';
const NVIDIA_AMI = 'AL2023_x86_64_NVIDIA';

interface Nodegroup {
  AmiType: string;
  CapacityType?: string;
  InstanceTypes: string[];
  Labels: Record<string, string>;
  Taints?: { Key: string; Value: string; Effect: string }[];
  ScalingConfig: { MinSize: number; MaxSize: number; DesiredSize: number };
}

function build(config: EnvironmentConfig) {
  const stage = createDrivetrainApp({ environments: [config], securityChecks: false }).stages[0]!;
  return { stage, template: Template.fromStack(stage.kubernetes) };
}

function nodegroups(template: Template): Nodegroup[] {
  return Object.values(template.findResources('AWS::EKS::Nodegroup')).map((r) => r.Properties as Nodegroup);
}

const gpuNodegroups = (template: Template) => nodegroups(template).filter((ng) => ng.AmiType === NVIDIA_AMI);

/** A KubernetesManifest's objects, parsed from the custom resource. */
function manifestObjects(template: Template): {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { hard: Record<string, string> };
}[] {
  return Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource')).flatMap((r) =>
    JSON.parse(r.Properties.Manifest as string),
  );
}

describe('KubernetesStack', () => {
  const devConfig = environmentConfig('dev');
  const prodConfig = environmentConfig('prod');
  // dev with one admin role, so the access-entry path is exercised; prod as shipped (no admins).
  const devWithAdmin: EnvironmentConfig = {
    ...devConfig,
    eks: { ...devConfig.eks, adminRoleArns: [ADMIN_ROLE_ARN] },
  };
  let dev: ReturnType<typeof build>;
  let prod: ReturnType<typeof build>;

  beforeAll(() => {
    dev = build(devWithAdmin);
    prod = build(prodConfig);
  });

  test('is named Drivetrain-<env>-Kubernetes', () => {
    expect(dev.stage.kubernetes.stackName).toBe('Drivetrain-dev-Kubernetes');
  });

  describe('cluster', () => {
    test('runs the configured Kubernetes version with a private endpoint and access-entry authentication', () => {
      dev.template.hasResourceProperties('AWS::EKS::Cluster', {
        Version: '1.34',
        AccessConfig: { AuthenticationMode: 'API', BootstrapClusterCreatorAdminPermissions: false },
        ResourcesVpcConfig: { EndpointPrivateAccess: true, EndpointPublicAccess: false },
      });
    });

    test('envelope-encrypts secrets with a rotating customer-managed key', () => {
      const keys = dev.template.findResources('AWS::KMS::Key', { Properties: { EnableKeyRotation: true } });
      const [keyId] = Object.keys(keys);

      expect(keyId).toBeDefined();
      dev.template.hasResourceProperties('AWS::EKS::Cluster', {
        EncryptionConfig: [
          { Provider: { KeyArn: { 'Fn::GetAtt': [keyId, 'Arn'] } }, Resources: ['secrets'] },
        ],
      });
    });

    test('logs every control-plane log type', () => {
      dev.template.hasResourceProperties('AWS::EKS::Cluster', {
        Logging: {
          ClusterLogging: {
            EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((type) => ({
              Type: type,
            })),
          },
        },
      });
    });

    test('writes control-plane logs to a pre-created, KMS-encrypted log group', () => {
      dev.template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/aws/eks/drivetrain-dev/cluster',
        KmsKeyId: Match.anyValue(),
        RetentionInDays: 365,
      });
    });

    test('gives each configured admin role cluster-admin through an access entry', () => {
      dev.template.hasResourceProperties('AWS::EKS::AccessEntry', {
        PrincipalArn: ADMIN_ROLE_ARN,
        AccessPolicies: [
          {
            PolicyArn: {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
                ],
              ],
            },
            AccessScope: { Type: 'cluster' },
          },
        ],
      });
    });

    test('grants no admin besides the kubectl provider when none is configured', () => {
      const entries = Object.values(prod.template.findResources('AWS::EKS::AccessEntry'));

      expect(entries).toHaveLength(1);
      expect(JSON.stringify(entries[0]?.Properties.PrincipalArn)).toContain(
        'KubectlProviderHandlerServiceRole',
      );
    });
  });

  describe('node groups', () => {
    test('each EKS GPU fleet has an on-demand and a spot group on the NVIDIA AMI', () => {
      const capacities = gpuNodegroups(dev.template).map(
        (ng) => `${ng.Labels['drivetrain/gpu-type']}/${ng.CapacityType}`,
      );

      expect(capacities.sort()).toEqual(['a10g/ON_DEMAND', 'a10g/SPOT']);
    });

    test("GPU groups use the fleet's instance types and scale from zero to the configured maximum", () => {
      for (const ng of gpuNodegroups(dev.template)) {
        expect(ng.InstanceTypes).toEqual(['g5.12xlarge', 'g5.48xlarge']);
        const entry = devConfig.eks.gpuFleets.find((f) => f.fleet === 'a10g')!;
        expect(ng.ScalingConfig).toEqual({
          MinSize: 0,
          DesiredSize: 0,
          MaxSize: ng.CapacityType === 'SPOT' ? entry.spotNodes : entry.onDemandNodes,
        });
      }
    });

    test('GPU groups are tainted for GPU work and labelled with GPU and capacity type', () => {
      for (const ng of gpuNodegroups(dev.template)) {
        expect(ng.Taints).toEqual([{ Key: 'nvidia.com/gpu', Value: 'present', Effect: 'NO_SCHEDULE' }]);
        expect(ng.Labels).toMatchObject({
          'drivetrain/gpu-type': 'a10g',
          'drivetrain/capacity-type': ng.CapacityType === 'SPOT' ? 'spot' : 'on-demand',
        });
      }
    });

    test('a system group runs the configured instance type and size, untainted', () => {
      const system = nodegroups(dev.template).filter((ng) => ng.AmiType === 'AL2023_x86_64_STANDARD');
      const { instanceType, min, max } = devConfig.eks.systemNodes;

      expect(system).toHaveLength(1);
      expect(system[0]).toMatchObject({
        InstanceTypes: [instanceType],
        ScalingConfig: { MinSize: min, MaxSize: max },
      });
      expect(system[0]?.Taints).toBeUndefined();
    });

    test('launch templates require IMDSv2 and encrypt gp3 root volumes', () => {
      const templates = Object.values(dev.template.findResources('AWS::EC2::LaunchTemplate'));

      expect(templates.length).toBeGreaterThan(0);
      for (const { Properties } of templates) {
        expect(Properties.LaunchTemplateData).toMatchObject({
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3' } }],
        });
      }
    });

    test('the node role carries only the managed policies EKS requires', () => {
      dev.template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
        }),
        ManagedPolicyArns: [
          'AmazonEKSWorkerNodePolicy',
          'AmazonEKS_CNI_Policy',
          'AmazonEC2ContainerRegistryPullOnly',
        ].map((name) => ({
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::aws:policy/${name}`]],
        })),
      });
    });

    test('prod has more and larger GPU node groups than dev, as configured', () => {
      const devGpu = gpuNodegroups(dev.template);
      const prodGpu = gpuNodegroups(prod.template);

      // A group per fleet and capacity type with nodes in config.
      const expectedGroups = (config: typeof devConfig) =>
        config.eks.gpuFleets.reduce(
          (n, entry) => n + (entry.onDemandNodes > 0 ? 1 : 0) + (entry.spotNodes > 0 ? 1 : 0),
          0,
        );
      expect(devGpu).toHaveLength(expectedGroups(devConfig));
      expect(prodGpu).toHaveLength(expectedGroups(prodConfig));
      expect(
        prodGpu.filter((ng) => ng.Labels['drivetrain/gpu-type'] === 'h100').map((ng) => ng.CapacityType),
      ).toEqual(['ON_DEMAND']);
      expect(prodGpu.length).toBeGreaterThan(devGpu.length);
      expect(new Set(prodGpu.map((ng) => ng.Labels['drivetrain/gpu-type']))).toEqual(
        new Set(prodConfig.eks.gpuFleets.map((f) => f.fleet)),
      );
      expect(Math.min(...prodGpu.map((ng) => ng.ScalingConfig.MaxSize))).toBeGreaterThan(
        Math.max(...devGpu.map((ng) => ng.ScalingConfig.MaxSize)),
      );
    });
  });

  describe('Helm charts', () => {
    test('install the NVIDIA device plugin at the configured version, tolerating the GPU taint', () => {
      dev.template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
        Chart: 'nvidia-device-plugin',
        Repository: 'https://nvidia.github.io/k8s-device-plugin',
        Version: devConfig.eks.nvidiaDevicePluginVersion,
        Values: JSON.stringify({
          tolerations: [{ key: 'nvidia.com/gpu', value: 'present', operator: 'Equal', effect: 'NoSchedule' }],
        }),
      });
    });

    test('install the KubeRay operator at the configured version in kuberay-system', () => {
      dev.template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
        Chart: 'kuberay-operator',
        Repository: 'https://ray-project.github.io/kuberay-helm/',
        Version: devConfig.eks.kuberayVersion,
        Namespace: 'kuberay-system',
        CreateNamespace: true,
      });
    });
  });

  describe('team namespaces', () => {
    test('every team gets a team-<name> namespace', () => {
      const namespaces = manifestObjects(dev.template)
        .filter((o) => o.kind === 'Namespace')
        .map((o) => o.metadata.name);

      expect(namespaces.sort()).toEqual(devConfig.teams.map((t) => `team-${t.name}`).sort());
    });

    test("each namespace's ResourceQuota holds the team's configured GPUs, CPUs and memory", () => {
      const quotas = manifestObjects(prod.template).filter((o) => o.kind === 'ResourceQuota');

      expect(quotas).toHaveLength(prodConfig.teams.length);
      for (const team of prodConfig.teams) {
        const quota = quotas.find((q) => q.metadata.namespace === `team-${team.name}`);
        const { gpus, cpus, memoryGiB } = team.kubernetes;
        expect(quota?.spec?.hard).toEqual({
          'requests.nvidia.com/gpu': String(gpus),
          'requests.cpu': String(cpus),
          'requests.memory': `${memoryGiB}Gi`,
          'limits.cpu': String(cpus),
          'limits.memory': `${memoryGiB}Gi`,
        });
      }
    });
  });

  test.each(securityRulePacks().map((pack) => [pack.name, pack] as const))(
    '%s finds nothing unacknowledged in the stack',
    (_name, pack) => {
      const findings = pack
        .validateScope(prod.stage.kubernetes)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));

      expect(findings).toEqual([]);
    },
  );
});
