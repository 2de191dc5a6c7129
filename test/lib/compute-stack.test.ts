import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { capacityPools } from '../../config/capacity';
import { environmentConfig } from '../../config/environments';
import { queueName } from '../../config/queues';
import { computeTemplate, propertiesOf } from './app-fixture';

type ComputeEnvironment = {
  ComputeEnvironmentName: string;
  ComputeResources: {
    Type: string;
    MaxvCpus: number;
    InstanceTypes: string[];
    AllocationStrategy: string;
    PlacementGroup?: unknown;
    Subnets: unknown[];
    Ec2Configuration: { ImageType: string }[];
  };
};

const computeEnvironments = (env: 'dev' | 'prod') =>
  propertiesOf(computeTemplate(env), 'AWS::Batch::ComputeEnvironment') as unknown as ComputeEnvironment[];

describe('Batch compute environments', () => {
  test('cover at least two GPU instance families', () => {
    const families = new Set(
      computeEnvironments('dev')
        .flatMap((ce) => ce.ComputeResources.InstanceTypes)
        .filter((type) => /^(g|p)\d/.test(type))
        .map((type) => type.split('.')[0]),
    );

    expect(families.size).toBeGreaterThanOrEqual(2);
    expect([...families]).toEqual(expect.arrayContaining(['g5', 'g6', 'p4d']));
  });

  test('include spot (price-capacity optimised) and on-demand capacity', () => {
    const ofType = (type: string) =>
      computeEnvironments('dev').filter((ce) => ce.ComputeResources.Type === type);

    expect(ofType('EC2').length).toBeGreaterThan(0);
    expect(ofType('SPOT').length).toBeGreaterThan(0);
    for (const spot of ofType('SPOT')) {
      expect(spot.ComputeResources.AllocationStrategy).toBe('SPOT_PRICE_CAPACITY_OPTIMIZED');
    }
  });

  test('GPU environments run the ECS GPU-optimised AMI', () => {
    const gpu = computeEnvironments('dev').filter((ce) => !ce.ComputeEnvironmentName.includes('-cpu-'));

    for (const ce of gpu) {
      expect(ce.ComputeResources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
    }
  });

  test('the multi-node environment is on-demand, in one subnet, in a cluster placement group', () => {
    const multiNode = computeEnvironments('dev').find((ce) =>
      ce.ComputeEnvironmentName.endsWith('a100-multi-node'),
    );

    expect(multiNode?.ComputeResources.Type).toBe('EC2');
    expect(multiNode?.ComputeResources.Subnets).toHaveLength(1);
    expect(multiNode?.ComputeResources.PlacementGroup).toBeDefined();
    computeTemplate('dev').hasResourceProperties('AWS::EC2::PlacementGroup', { Strategy: 'cluster' });
  });

  test('prod can grow larger than dev, exactly as config says', () => {
    const totalVcpus = (env: 'dev' | 'prod') =>
      computeEnvironments(env).reduce((sum, ce) => sum + ce.ComputeResources.MaxvCpus, 0);
    const configured = (env: 'dev' | 'prod') => {
      const c = environmentConfig(env);
      return (
        c.gpuFleets.reduce(
          (s, f) => s + f.onDemandMaxVcpus + f.spotMaxVcpus + (f.multiNode?.maxVcpus ?? 0),
          0,
        ) +
        c.cpuFleet.onDemandMaxVcpus +
        c.cpuFleet.spotMaxVcpus
      );
    };

    expect(totalVcpus('dev')).toBe(configured('dev'));
    expect(totalVcpus('prod')).toBe(configured('prod'));
    expect(totalVcpus('prod')).toBeGreaterThan(10 * totalVcpus('dev'));
  });
});

describe('launch templates', () => {
  test('require IMDSv2 and encrypt every volume', () => {
    const templates = propertiesOf(computeTemplate('prod'), 'AWS::EC2::LaunchTemplate') as {
      LaunchTemplateData: {
        MetadataOptions: { HttpTokens: string };
        BlockDeviceMappings: { Ebs: { Encrypted: boolean; VolumeType: string } }[];
      };
    }[];

    expect(templates.length).toBeGreaterThan(0);
    for (const { LaunchTemplateData: data } of templates) {
      expect(data.MetadataOptions.HttpTokens).toBe('required');
      for (const mapping of data.BlockDeviceMappings) {
        expect(mapping.Ebs).toMatchObject({ Encrypted: true, VolumeType: 'gp3' });
      }
    }
  });

  test('EFA templates put one EFA interface on each network card', () => {
    computeTemplate('prod').hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        NetworkInterfaces: Match.arrayWith([
          Match.objectLike({ NetworkCardIndex: 0, DeviceIndex: 0, InterfaceType: 'efa' }),
          Match.objectLike({ NetworkCardIndex: 31, DeviceIndex: 1, InterfaceType: 'efa' }),
        ]),
      }),
    });
  });
});

describe('job queues', () => {
  const queue = (name: string) => {
    const queues = computeTemplate('dev').findResources('AWS::Batch::JobQueue', {
      Properties: { JobQueueName: name },
    });
    return Object.values(queues)[0] as {
      Properties: {
        Priority: number;
        ComputeEnvironmentOrder: { Order: number; ComputeEnvironment: { 'Fn::GetAtt': string[] } }[];
      };
    };
  };
  const order = (name: string) =>
    queue(name)
      .Properties.ComputeEnvironmentOrder.toSorted((a, b) => a.Order - b.Order)
      .map((o) => o.ComputeEnvironment['Fn::GetAtt'][0]);

  test.each([
    ['a10g-on-demand', /OnDemand/],
    ['a10g-spot', /Spot/],
    ['a100-multi-node', /MultiNode/],
    ['cpu-spot', /Spot/],
  ])('the %s queue feeds exactly its own compute environment, so nothing spills', (pool, environment) => {
    const environments = order(queueName('dev', pool));

    expect(environments).toHaveLength(1);
    expect(environments[0]).toMatch(environment);
  });

  test('there is one queue per Batch pool of the capacity model, and no other', () => {
    const names = propertiesOf(computeTemplate('dev'), 'AWS::Batch::JobQueue').map((q) => q.JobQueueName);
    const batchPools = capacityPools(environmentConfig('dev')).filter((p) => p.backend === 'batch');

    expect(names.sort()).toEqual(batchPools.map((p) => queueName('dev', p.id)).sort());
  });

  test('every queue uses the fair-share policy', () => {
    const queues = propertiesOf(computeTemplate('dev'), 'AWS::Batch::JobQueue');

    for (const q of queues) expect(q.SchedulingPolicyArn).toBeDefined();
  });
});

describe('fair-share policy', () => {
  test('has one share per configured team, weighted inversely as Batch expects', () => {
    const [policy] = propertiesOf(computeTemplate('dev'), 'AWS::Batch::SchedulingPolicy') as {
      FairsharePolicy: {
        ShareDistribution: { ShareIdentifier: string; WeightFactor: number }[];
        ShareDecaySeconds: number;
      };
    }[];
    const teams = environmentConfig('dev').teams;

    const shares = policy!.FairsharePolicy.ShareDistribution;
    expect(shares.map((s) => s.ShareIdentifier).sort()).toEqual(teams.map((t) => t.name).sort());
    const factor = (team: string) => shares.find((s) => s.ShareIdentifier === team)!.WeightFactor;
    // perception has weight 3, mapping weight 1: mapping's factor is three times larger.
    expect(factor('mapping') / factor('perception')).toBeCloseTo(3);
    expect(policy!.FairsharePolicy.ShareDecaySeconds).toBe(environmentConfig('dev').batch.shareDecaySeconds);
  });
});

describe('job definitions', () => {
  test('single-node GPU definition requests a GPU, shared memory, ulimits and a timeout', () => {
    computeTemplate('dev').hasResourceProperties('AWS::Batch::JobDefinition', {
      JobDefinitionName: 'drivetrain-dev-gpu',
      Type: 'container',
      Timeout: { AttemptDurationSeconds: 72 * 3600 },
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'GPU', Value: '1' }]),
        LinuxParameters: Match.objectLike({ SharedMemorySize: 64 * 1024 }),
        Ulimits: Match.arrayWith([{ Name: 'memlock', SoftLimit: -1, HardLimit: -1 }]),
      }),
    });
  });

  test('retries host and spot reclaims but exits on application errors', () => {
    computeTemplate('dev').hasResourceProperties('AWS::Batch::JobDefinition', {
      JobDefinitionName: 'drivetrain-dev-gpu',
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
    });
  });

  test('multi-node parallel definition passes the EFA devices through', () => {
    computeTemplate('dev').hasResourceProperties('AWS::Batch::JobDefinition', {
      JobDefinitionName: 'drivetrain-dev-a100-multi-node',
      Type: 'multinode',
      NodeProperties: Match.objectLike({
        MainNode: 0,
        NumNodes: 2,
        NodeRangeProperties: [
          Match.objectLike({
            Container: Match.objectLike({
              InstanceType: 'p4d.24xlarge',
              LinuxParameters: Match.objectLike({
                Devices: Match.arrayWith([Match.objectLike({ HostPath: '/dev/infiniband/uverbs3' })]),
              }),
            }),
          }),
        ],
      }),
    });
  });
});

describe('SageMaker training', () => {
  test('execution role is assumable by SageMaker only and limited to the sagemaker/ prefix', () => {
    const template = computeTemplate('dev');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })],
      }),
    });
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    const sagemakerPolicy = Object.entries(policies).find(([id]) =>
      id.startsWith('SageMakerExecutionPolicy'),
    )![1];
    const objectStatements = (
      sagemakerPolicy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]
    )
      .filter((statement) => JSON.stringify(statement.Action).includes('s3:PutObject'))
      .map((statement) => JSON.stringify(statement.Resource));

    expect(objectStatements).toHaveLength(1);
    expect(objectStatements[0]).toMatch(/drivetrain-dev-artifacts-111111111111-us-east-1\/sagemaker\/\*/);
  });
});
