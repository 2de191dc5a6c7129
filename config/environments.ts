import { capacityPools, gpusByType } from './capacity';
import {
  type EnvironmentConfig,
  type EnvironmentInput,
  type EnvironmentName,
  environmentSchema,
  type TeamConfig,
} from './schema';

/**
 * dev, staging and prod. Accounts are placeholders: set them (or override with
 * DRIVETRAIN_<ENV>_ACCOUNT) before `cdk deploy`. Sizes are maxima that Batch and the
 * EKS node groups scale up to; idle fleets cost nothing.
 */

const a10g = {
  name: 'a10g',
  gpuType: 'a10g',
  gpusPerInstance: 8,
  instanceMemoryGiB: 768,
  instanceTypes: ['g5.12xlarge', 'g5.48xlarge'],
};
const l4 = {
  name: 'l4',
  gpuType: 'l4',
  gpusPerInstance: 8,
  instanceMemoryGiB: 768,
  instanceTypes: ['g6.12xlarge', 'g6.48xlarge'],
};
const a100 = {
  name: 'a100',
  gpuType: 'a100',
  gpusPerInstance: 8,
  instanceMemoryGiB: 1152,
  instanceTypes: ['p4d.24xlarge'],
};
const h100 = {
  name: 'h100',
  gpuType: 'h100',
  gpusPerInstance: 8,
  instanceMemoryGiB: 2048,
  instanceTypes: ['p5.48xlarge'],
};

const common = {
  batch: {
    shareDecaySeconds: 3_600,
    computeReservation: 10,
    defaultImage: 'public.ecr.aws/docker/library/python:3.11-slim',
    jobTimeoutHours: 72,
    sharedMemoryGiB: 64,
  },
  eks: {
    kubernetesVersion: '1.34' as const,
    kuberayVersion: '1.4.2',
    nvidiaDevicePluginVersion: '0.17.4',
    systemNodes: { instanceType: 'm7i.xlarge', min: 2, max: 6 },
  },
};

/** Sensor ETL: each environment overrides sizes only. */
const data = {
  raw: { intelligentTieringAfterDays: 30, noncurrentVersionDays: 30 },
  quarantineRetentionDays: 90,
  maxObjectGiB: 100,
  maxObjectsPerRun: 200,
  emrThresholdGiB: 200,
  eventBatchWindowSeconds: 60,
  sweepEveryHours: 24,
  glue: { workerType: 'G.1X' as const, workers: 10, timeoutMinutes: 240, maxConcurrentRuns: 20 },
  emr: {
    maxVcpus: 200,
    maxMemoryGiB: 800,
    maxDiskGiB: 4_000,
    idleTimeoutMinutes: 15,
    jobTimeoutMinutes: 720,
  },
  logRetentionDays: 90,
};

/** Team quotas scale with the environment; weights and allowed classes do not. */
function teams(scale: number, fleets: string[]): TeamConfig[] {
  const quota = (base: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(base)
        .filter(([fleet]) => fleets.includes(fleet))
        .map(([fleet, gpus]) => [fleet, gpus * scale]),
    );
  const kubernetes = (gpus: number) => ({
    gpus: gpus * scale,
    cpus: gpus * scale * 12,
    memoryGiB: gpus * scale * 96,
  });
  return [
    {
      name: 'perception',
      weight: 3,
      gpuQuota: quota({ a10g: 16, l4: 8, a100: 16, h100: 16 }),
      priorityClasses: ['critical', 'standard', 'preemptible'],
      kubernetes: kubernetes(8),
      principals: [],
    },
    {
      name: 'planning',
      weight: 2,
      gpuQuota: quota({ a10g: 8, l4: 8, a100: 8, h100: 8 }),
      priorityClasses: ['critical', 'standard', 'preemptible'],
      kubernetes: kubernetes(4),
      principals: [],
    },
    {
      name: 'prediction',
      weight: 2,
      gpuQuota: quota({ a10g: 8, l4: 4, a100: 8, h100: 8 }),
      priorityClasses: ['standard', 'preemptible'],
      kubernetes: kubernetes(4),
      principals: [],
    },
    {
      name: 'mapping',
      weight: 1,
      gpuQuota: quota({ a10g: 4, l4: 4 }),
      priorityClasses: ['standard', 'preemptible'],
      kubernetes: kubernetes(2),
      principals: [],
    },
  ];
}

const inputs: Record<EnvironmentName, EnvironmentInput> = {
  dev: {
    name: 'dev',
    account: process.env.DRIVETRAIN_DEV_ACCOUNT ?? '111111111111',
    region: 'us-east-1',
    network: {
      cidr: '10.10.0.0/16',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      privateSubnetMask: 19,
      natGateways: 1,
      flowLogRetentionDays: 30,
    },
    gpuFleets: [
      { ...a10g, onDemandMaxVcpus: 384, spotMaxVcpus: 768 },
      { ...l4, onDemandMaxVcpus: 0, spotMaxVcpus: 768 },
      {
        ...a100,
        onDemandMaxVcpus: 192,
        spotMaxVcpus: 192,
        multiNode: { instanceType: 'p4d.24xlarge', maxVcpus: 192, efaInterfaces: 4, maxNodes: 2 },
      },
    ],
    cpuFleet: { instanceClasses: ['c7i', 'm7i'], onDemandMaxVcpus: 256, spotMaxVcpus: 1_024 },
    batch: common.batch,
    eks: { ...common.eks, gpuFleets: [{ fleet: 'a10g', onDemandNodes: 2, spotNodes: 2 }] },
    sagemaker: {
      instances: [
        { instanceType: 'ml.g5.xlarge', onDemandQuota: 2, spotQuota: 2 },
        { instanceType: 'ml.g5.12xlarge', onDemandQuota: 1, spotQuota: 1 },
        { instanceType: 'ml.m5.xlarge', onDemandQuota: 2, spotQuota: 0 },
      ],
    },
    teams: teams(1, ['a10g', 'l4', 'a100']),
    data,
    removalPolicy: 'destroy',
  },
  staging: {
    name: 'staging',
    account: process.env.DRIVETRAIN_STAGING_ACCOUNT ?? '222222222222',
    region: 'us-west-2',
    network: {
      cidr: '10.20.0.0/16',
      availabilityZones: ['us-west-2a', 'us-west-2b', 'us-west-2c'],
      privateSubnetMask: 18,
      natGateways: 1,
      flowLogRetentionDays: 90,
    },
    gpuFleets: [
      { ...a10g, onDemandMaxVcpus: 1_536, spotMaxVcpus: 3_072 },
      { ...l4, onDemandMaxVcpus: 768, spotMaxVcpus: 1_536 },
      {
        ...a100,
        onDemandMaxVcpus: 768,
        spotMaxVcpus: 768,
        multiNode: { instanceType: 'p4d.24xlarge', maxVcpus: 1_536, efaInterfaces: 4, maxNodes: 16 },
      },
    ],
    cpuFleet: { instanceClasses: ['c7i', 'm7i', 'r7i'], onDemandMaxVcpus: 4_096, spotMaxVcpus: 16_384 },
    batch: common.batch,
    eks: {
      ...common.eks,
      gpuFleets: [
        { fleet: 'a10g', onDemandNodes: 32, spotNodes: 32 },
        { fleet: 'l4', onDemandNodes: 16, spotNodes: 32 },
      ],
    },
    sagemaker: {
      instances: [
        { instanceType: 'ml.g5.12xlarge', onDemandQuota: 4, spotQuota: 4 },
        { instanceType: 'ml.g5.48xlarge', onDemandQuota: 2, spotQuota: 2 },
        { instanceType: 'ml.p4d.24xlarge', onDemandQuota: 2, spotQuota: 0 },
      ],
    },
    teams: teams(4, ['a10g', 'l4', 'a100']),
    data: {
      ...data,
      raw: { ...data.raw, archive: { storageClass: 'GLACIER_IR', afterDays: 180 } },
      glue: { ...data.glue, workers: 20, maxConcurrentRuns: 50 },
      emr: { ...data.emr, maxVcpus: 1_000, maxMemoryGiB: 4_000, maxDiskGiB: 20_000 },
    },
    removalPolicy: 'retain',
  },
  prod: {
    name: 'prod',
    account: process.env.DRIVETRAIN_PROD_ACCOUNT ?? '333333333333',
    region: 'us-west-2',
    network: {
      cidr: '10.0.0.0/16',
      availabilityZones: ['us-west-2a', 'us-west-2b', 'us-west-2c'],
      privateSubnetMask: 18,
      natGateways: 3,
      flowLogRetentionDays: 365,
    },
    // Thousands of nodes: ~770 g5/g6.48xlarge-equivalents, 512 p4d, 512 p5 and ~3,000 CPU nodes.
    gpuFleets: [
      { ...a10g, onDemandMaxVcpus: 49_152, spotMaxVcpus: 98_304 },
      { ...l4, onDemandMaxVcpus: 24_576, spotMaxVcpus: 49_152 },
      {
        ...a100,
        onDemandMaxVcpus: 24_576,
        spotMaxVcpus: 12_288,
        multiNode: { instanceType: 'p4d.24xlarge', maxVcpus: 24_576, efaInterfaces: 4, maxNodes: 256 },
      },
      {
        ...h100,
        onDemandMaxVcpus: 49_152,
        spotMaxVcpus: 0,
        multiNode: { instanceType: 'p5.48xlarge', maxVcpus: 49_152, efaInterfaces: 32, maxNodes: 256 },
      },
    ],
    cpuFleet: { instanceClasses: ['c7i', 'm7i', 'r7i'], onDemandMaxVcpus: 65_536, spotMaxVcpus: 262_144 },
    batch: { ...common.batch, shareDecaySeconds: 14_400 },
    eks: {
      ...common.eks,
      gpuFleets: [
        { fleet: 'a10g', onDemandNodes: 128, spotNodes: 128 },
        { fleet: 'l4', onDemandNodes: 64, spotNodes: 64 },
        { fleet: 'h100', onDemandNodes: 64, spotNodes: 0 },
      ],
    },
    sagemaker: {
      instances: [
        { instanceType: 'ml.g5.48xlarge', onDemandQuota: 16, spotQuota: 16 },
        { instanceType: 'ml.p4d.24xlarge', onDemandQuota: 16, spotQuota: 8 },
        { instanceType: 'ml.p5.48xlarge', onDemandQuota: 16, spotQuota: 0 },
      ],
    },
    teams: teams(16, ['a10g', 'l4', 'a100', 'h100']),
    // Petabyte backfills: see README, Sensor ETL at scale.
    data: {
      ...data,
      raw: {
        ...data.raw,
        archive: { storageClass: 'GLACIER_IR', afterDays: 365 },
        noncurrentVersionDays: 90,
      },
      quarantineRetentionDays: 365,
      emrThresholdGiB: 500,
      glue: { ...data.glue, workerType: 'G.2X', workers: 50, maxConcurrentRuns: 200 },
      emr: { ...data.emr, maxVcpus: 10_000, maxMemoryGiB: 40_000, maxDiskGiB: 200_000 },
      logRetentionDays: 365,
    },
    removalPolicy: 'retain',
  },
};

/**
 * Parses and validates one environment; errors name the field path. Past the schema, team
 * quotas must fit the GPUs the capacity model has of each type, over every backend.
 */
export function parseEnvironment(input: EnvironmentInput): EnvironmentConfig {
  const result = environmentSchema.safeParse(input);
  const problems = result.success
    ? quotaProblems(result.data)
    : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  if (problems.length > 0 || !result.success) {
    throw new Error(`invalid environment config ${String(input.name)}:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}

function quotaProblems(env: EnvironmentConfig): string[] {
  const capacity = gpusByType(capacityPools(env));
  return env.gpuFleets.flatMap((fleet) => {
    const quota = env.teams.reduce((sum, team) => sum + (team.gpuQuota[fleet.name] ?? 0), 0);
    const gpus = capacity.get(fleet.gpuType) ?? 0;
    return quota > gpus
      ? [`teams: team quotas on ${fleet.name} add up to ${quota} GPUs, more than the ${gpus} its pools hold`]
      : [];
  });
}

export const ENVIRONMENT_NAMES = Object.keys(inputs) as EnvironmentName[];

export function environmentConfig(name: EnvironmentName): EnvironmentConfig {
  return parseEnvironment(inputs[name]);
}

export function allEnvironments(): EnvironmentConfig[] {
  return ENVIRONMENT_NAMES.map(environmentConfig);
}
