import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { CAPACITY_TYPE_LABEL, GPU_TAINT, GPU_TYPE_LABEL } from '../../backends/ray-job';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentConfig } from '../../config/schema';
import { createDrivetrainApp } from '../../lib/drivetrain-app';
import * as nodePools from '../../lib/kubernetes/gpu-node-pools';
import { ec2NodeClass, eksGpuPools, nodePool } from '../../lib/kubernetes/gpu-node-pools';
import { securityRulePacks } from '../../lib/nag';
import { crdViolations, EC2_NODE_CLASS, NODE_POOL } from './karpenter-crds';

const ADMIN_ROLE_ARN = 'arn:aws:iam::111111111111:role/platform-admin';

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

interface NodePoolManifest {
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: { taints: unknown; requirements: unknown[]; expireAfter: string; expireAfer?: string };
    };
    disruption: { consolidationPolicy: string };
  };
}

function propertiesOfType(template: Template, type: string): unknown[] {
  return Object.values(template.findResources(type)).map((r) => r.Properties);
}

/** A KubernetesManifest's objects, parsed from the custom resource. */
function manifestObjects(template: Template): {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { hard: Record<string, string> };
}[] {
  // Manifests with deploy-time values (subnet ids) are Fn::Join; the team objects are plain JSON.
  return Object.values(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'))
    .filter((r) => typeof r.Properties.Manifest === 'string')
    .flatMap((r) => JSON.parse(r.Properties.Manifest as string));
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
    test('the only managed node group is the system group: GPU capacity comes from Karpenter', () => {
      expect(nodegroups(dev.template).map((ng) => ng.AmiType)).toEqual(['AL2023_x86_64_STANDARD']);
      expect(nodegroups(prod.template).map((ng) => ng.AmiType)).toEqual(['AL2023_x86_64_STANDARD']);
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
  });

  describe('Karpenter', () => {
    const sample = {
      nodeRoleName: 'node-role',
      subnetIds: ['subnet-0a1', 'subnet-0b2'],
      securityGroupIds: ['sg-0c3'],
      clusterName: 'drivetrain-dev',
    };

    test('is installed from its OCI chart at the configured version on the system nodes', () => {
      const chart = Object.values(dev.template.findResources('Custom::AWSCDK-EKS-HelmChart'))
        .map((r) => r.Properties)
        .find((p) => p.Chart === 'karpenter')!;

      expect(chart).toMatchObject({
        Repository: 'oci://public.ecr.aws/karpenter/karpenter',
        Version: devConfig.eks.karpenterVersion,
        Namespace: 'kube-system',
      });
      expect(JSON.stringify(chart.Values)).toContain('drivetrain/node-role');
      expect(JSON.stringify(chart.Values)).toContain('interruptionQueue');
    });

    test('its controller role is bound to its service account through EKS Pod Identity', () => {
      dev.template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
        Namespace: 'kube-system',
        ServiceAccount: 'karpenter',
      });
      dev.template.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
      const trusts = (
        propertiesOfType(dev.template, 'AWS::IAM::Role') as { AssumeRolePolicyDocument: unknown }[]
      )
        .map((r) => JSON.stringify(r.AssumeRolePolicyDocument))
        .filter((t) => t.includes('pods.eks.amazonaws.com'));
      expect(trusts).toHaveLength(1);
      expect(trusts[0]).toContain('sts:AssumeRole');
      expect(trusts[0]).toContain('sts:TagSession');
    });

    test('an interruption queue gets spot interruption, rebalance, state-change and scheduled-change events', () => {
      const queues = Object.keys(dev.template.findResources('AWS::SQS::Queue'));
      const rules = propertiesOfType(dev.template, 'AWS::Events::Rule') as {
        EventPattern: { source: string[]; 'detail-type': string[] };
        Targets: { Arn: { 'Fn::GetAtt': string[] } }[];
      }[];

      expect(rules.map((r) => r.EventPattern['detail-type'][0]).sort()).toEqual([
        'AWS Health Event',
        'EC2 Instance Rebalance Recommendation',
        'EC2 Instance State-change Notification',
        'EC2 Spot Instance Interruption Warning',
      ]);
      for (const rule of rules) expect(queues).toContain(rule.Targets[0]!.Arn['Fn::GetAtt'][0]);
    });

    test('terminates and tags only instances tagged for this cluster and a NodePool', () => {
      const policies = propertiesOfType(dev.template, 'AWS::IAM::ManagedPolicy') as {
        PolicyDocument: {
          Statement: { Action: string | string[]; Condition?: Record<string, Record<string, unknown>> }[];
        };
      }[];
      const terminate = policies
        .flatMap((p) => p.PolicyDocument.Statement)
        .filter((st) => [st.Action].flat().includes('ec2:TerminateInstances'));

      expect(terminate).toHaveLength(1);
      expect(terminate[0]!.Condition).toMatchObject({
        StringEquals: { 'aws:ResourceTag/kubernetes.io/cluster/drivetrain-dev': 'owned' },
        StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
      });
    });

    test("one NodePool per EKS pool of the capacity model, limited to the pool's GPUs, CPUs and memory", () => {
      const pools = eksGpuPools(prodConfig);
      const nodePools = prod.stage.kubernetes.gpuNodePools.nodePools as {
        metadata: { name: string };
        spec: { limits: Record<string, string> };
      }[];

      expect(nodePools.map((p) => p.metadata.name)).toEqual(pools.map(({ pool }) => pool.id));
      for (const { pool } of pools) {
        const limits = nodePools.find((p) => p.metadata.name === pool.id)!.spec.limits;
        expect(limits).toEqual({
          'nvidia.com/gpu': String(pool.nodeCount * pool.node.gpus),
          cpu: String(pool.nodeCount * pool.node.cpus),
          memory: `${(pool.nodeCount * pool.node.memoryMiB) / 1024}Gi`,
        });
      }
      expect(nodePools.map((p) => p.metadata.name)).toContain('eks-h100-on-demand');
      expect(nodePools.map((p) => p.metadata.name)).not.toContain('eks-h100-spot');
    });

    test("NodePools carry the scheduler pool's labels and the GPU taint, and never disrupt running training", () => {
      const { pool, fleet } = eksGpuPools(devConfig)[0]!;
      const manifest = nodePool(pool, fleet) as unknown as NodePoolManifest;

      expect(manifest.spec.template.metadata.labels).toEqual({
        'drivetrain/gpu-type': 'a10g',
        'drivetrain/capacity-type': 'on-demand',
        'drivetrain/pool': 'eks-a10g-on-demand',
        'nvidia.com/gpu.present': 'true',
      });
      expect(manifest.spec.template.spec.taints).toEqual([
        { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' },
      ]);
      expect(manifest.spec.template.spec.requirements).toContainEqual({
        key: 'karpenter.sh/capacity-type',
        operator: 'In',
        values: ['on-demand'],
      });
      expect(manifest.spec.template.spec.expireAfter).toBe('Never');
      expect(manifest.spec.disruption).toEqual({
        consolidationPolicy: 'WhenEmpty',
        consolidateAfter: '10m',
        budgets: [{ nodes: '10%' }],
      });
    });

    test('EC2NodeClasses use the AL2023 (NVIDIA) AMI, IMDSv2 with hop limit 1, encrypted volumes and RAID0 instance stores', () => {
      const fleet = devConfig.gpuFleets.find((f) => f.name === 'a10g')!;
      const nodeClass = ec2NodeClass({ fleet, ...sample }) as { spec: Record<string, unknown> };

      expect(nodeClass.spec).toMatchObject({
        amiSelectorTerms: [{ alias: 'al2023@latest' }],
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [
          { rootVolume: true, ebs: { encrypted: true, volumeType: 'gp3', volumeSize: '500Gi' } },
        ],
        instanceStorePolicy: 'RAID0',
      });
      expect(
        dev.stage.kubernetes.gpuNodePools.nodeClasses.map(
          (c) => (c as { metadata: { name: string } }).metadata.name,
        ),
      ).toEqual(['gpu-a10g']);
    });

    test('every NodePool and EC2NodeClass of every environment follows the Karpenter v1 CRD schemas', () => {
      for (const config of [devConfig, environmentConfig('staging'), prodConfig]) {
        const pools = eksGpuPools(config);
        for (const { pool, fleet } of pools) {
          expect(crdViolations(NODE_POOL, nodePool(pool, fleet))).toEqual([]);
          expect(crdViolations(EC2_NODE_CLASS, ec2NodeClass({ fleet, ...sample }))).toEqual([]);
        }
      }
    });

    test('the schema check refuses what Karpenter would (a typo, a bad enum, hop limit 0, a restricted label)', () => {
      const { pool, fleet } = eksGpuPools(devConfig)[0]!;
      const broken = structuredClone(nodePool(pool, fleet)) as unknown as NodePoolManifest;
      broken.spec.disruption.consolidationPolicy = 'WhenIdle';
      broken.spec.template.metadata.labels['karpenter.sh/nodepool'] = 'x';
      broken.spec.template.spec.expireAfer = 'Never';
      const badClass = structuredClone(ec2NodeClass({ fleet, ...sample })) as unknown as {
        spec: { metadataOptions: { httpPutResponseHopLimit: number } };
      };
      badClass.spec.metadataOptions.httpPutResponseHopLimit = 0;

      expect(crdViolations(NODE_POOL, broken)).toEqual([
        '.spec.template.metadata.labels: label domain karpenter.sh is restricted (except capacity-type), as are karpenter.sh/nodepool and kubernetes.io/hostname',
        '.spec.template.spec.expireAfer: field not declared in schema',
        '.spec.disruption.consolidationPolicy: Unsupported value: "WhenIdle"',
      ]);
      expect(crdViolations(EC2_NODE_CLASS, badClass)).toEqual([
        '.spec.metadataOptions.httpPutResponseHopLimit: should be >= 1',
      ]);
    });

    test('the RayJob pod labels and taint are the ones the NodePools carry', () => {
      expect([GPU_TYPE_LABEL, CAPACITY_TYPE_LABEL, GPU_TAINT]).toEqual([
        nodePools.GPU_TYPE_LABEL,
        nodePools.CAPACITY_TYPE_LABEL,
        nodePools.GPU_TAINT,
      ]);
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
