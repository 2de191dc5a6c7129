import { z } from 'zod';
import { PRIORITY_CLASS_NAMES } from '../scheduler/priority-classes';
import { dataSchema } from './data';
import { hasKnownSize, instanceVcpus } from './instance-types';
import { TRAINING_INSTANCES } from './sagemaker-instances';

/**
 * Typed per-environment configuration: the one source of truth for the stacks, the local
 * runtime and the scheduler's view of teams and pools. Parsed with zod so a typo in a fleet
 * or a team fails `cdk synth` with the field path instead of deploying something odd.
 */

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,22}$/, 'lower-case letters, digits and dashes, starting with a letter');

export const capacityTypes = ['on-demand', 'spot'] as const;
export type CapacityType = (typeof capacityTypes)[number];

const priorityClassName = z.enum(PRIORITY_CLASS_NAMES as [string, ...string[]]);

export const gpuFleetSchema = z.object({
  /** Pool name, also the GPU type the scheduler places on (e.g. `a10g`, `h100`). */
  name,
  /** Accelerator model, as users request it in a job spec. */
  gpuType: name,
  /** GPUs and memory of the largest instance type: size job definitions, quotas and scheduler pools. */
  gpusPerInstance: z.number().int().min(1).max(16),
  instanceMemoryGiB: z.number().int().min(16).max(4096),
  /** Exact EC2 instance types; all must carry `gpuType`. */
  instanceTypes: z.array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type')).min(1),
  onDemandMaxVcpus: z.number().int().min(0),
  spotMaxVcpus: z.number().int().min(0),
  /** Gang (multi-node parallel) capacity: EFA plus a cluster placement group. */
  multiNode: z
    .object({
      instanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/),
      maxVcpus: z.number().int().min(1),
      /** EFA interfaces per instance, one per network card (p4d: 4, p5: 32). */
      efaInterfaces: z.number().int().min(1).max(32),
      maxNodes: z.number().int().min(2).max(1000),
    })
    .optional(),
  /** Root volume for large CUDA images and local dataset caches. */
  rootVolumeGiB: z.number().int().min(100).max(16_384).default(500),
});
export type GpuFleet = z.infer<typeof gpuFleetSchema>;

export const teamSchema = z.object({
  name,
  /** Fair-share weight: a team with weight 2 is entitled to twice the share of weight 1. */
  weight: z.number().positive().max(1000),
  /** Nominal GPU quota per fleet (GPU count); idle quota is lent to other teams. */
  gpuQuota: z.record(z.string(), z.number().int().min(0)),
  priorityClasses: z.array(priorityClassName).min(1),
  /** Kubernetes ResourceQuota of the team's namespace on EKS. */
  kubernetes: z.object({
    gpus: z.number().int().min(0),
    cpus: z.number().int().min(1),
    memoryGiB: z.number().int().min(1),
  }),
  /** IAM principals (role ARNs) that act as this team on the job API. */
  principals: z.array(z.string()).default([]),
});
export type TeamConfig = z.infer<typeof teamSchema>;

export const sageMakerSchema = z.object({
  /**
   * Training instance types jobs may be placed on, each with the account's service quota
   * ("<type> for training job usage" and "... for spot training job usage"): the scheduler
   * never places more instances than these.
   */
  instances: z
    .array(
      z.object({
        instanceType: z.string().refine((t) => Object.hasOwn(TRAINING_INSTANCES, t), {
          message: 'a SageMaker training instance type listed in config/sagemaker-instances.ts',
        }),
        onDemandQuota: z.number().int().min(0),
        spotQuota: z.number().int().min(0),
      }),
    )
    .default([]),
  /** EBS storage volume per instance, for types without local NVMe storage. */
  volumeSizeGiB: z.number().int().min(1).max(16_384).default(200),
});

export const environmentSchema = z
  .object({
    name: z.enum(['dev', 'staging', 'prod']),
    /** Account and region the stage deploys to; placeholders are fine for synth. */
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
    network: z.object({
      cidr: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/(1[6-9]|2[0-4])$/, 'an IPv4 CIDR from /16 to /24'),
      /** Listed explicitly so synth needs no AZ lookup (no credentials). */
      availabilityZones: z.array(z.string()).min(2).max(6),
      /** Private subnet size: /18 gives ~16k addresses per AZ, room for thousands of nodes. */
      privateSubnetMask: z.number().int().min(16).max(26),
      /** 0 keeps the VPC fully private (AWS APIs through endpoints only). */
      natGateways: z.number().int().min(0),
      flowLogRetentionDays: z.number().int().min(1),
    }),
    gpuFleets: z.array(gpuFleetSchema).min(1),
    /** General-purpose CPU capacity for data preparation and evaluation jobs. */
    cpuFleet: z.object({
      instanceClasses: z.array(z.string()).min(1),
      onDemandMaxVcpus: z.number().int().min(0),
      spotMaxVcpus: z.number().int().min(0),
    }),
    batch: z.object({
      /** Fair-share usage half-life as AWS Batch defines it. */
      shareDecaySeconds: z.number().int().min(0).max(604_800),
      /** Fraction of capacity held back for shares that have not been used recently (0..99). */
      computeReservation: z.number().int().min(0).max(99),
      defaultImage: z.string().min(1),
      jobTimeoutHours: z.number().positive().max(336),
      sharedMemoryGiB: z.number().int().min(1).max(1024),
    }),
    eks: z.object({
      kubernetesVersion: z.literal('1.34'),
      /**
       * GPU capacity on EKS: a Karpenter NodePool per fleet and capacity type, whose GPU, CPU
       * and memory limits are these node counts times the fleet's largest instance.
       */
      gpuFleets: z
        .array(
          z.object({
            fleet: name,
            onDemandNodes: z.number().int().min(0).max(5_000),
            spotNodes: z.number().int().min(0).max(5_000),
          }),
        )
        .min(1),
      systemNodes: z.object({
        instanceType: z.string(),
        min: z.number().int().min(1),
        max: z.number().int().min(1),
      }),
      kuberayVersion: z.string(),
      nvidiaDevicePluginVersion: z.string(),
      /** IAM role ARNs granted cluster-admin through an EKS access entry. */
      adminRoleArns: z.array(z.string()).default([]),
    }),
    sagemaker: sageMakerSchema,
    teams: z.array(teamSchema).min(1),
    /** Sensor ETL (config/data.ts). */
    data: dataSchema,
    removalPolicy: z.enum(['destroy', 'retain']),
  })
  .superRefine((env, ctx) => {
    const fleets = new Set(env.gpuFleets.map((f) => f.name));
    const duplicate = (names: string[]) => names.find((n, i) => names.indexOf(n) !== i);
    const dupFleet = duplicate(env.gpuFleets.map((f) => f.name));
    if (dupFleet)
      ctx.addIssue({ code: 'custom', path: ['gpuFleets'], message: `duplicate fleet ${dupFleet}` });
    const dupGpu = duplicate(env.gpuFleets.map((f) => f.gpuType));
    if (dupGpu)
      ctx.addIssue({ code: 'custom', path: ['gpuFleets'], message: `two fleets of GPU type ${dupGpu}` });
    const dupTeam = duplicate(env.teams.map((t) => t.name));
    if (dupTeam) ctx.addIssue({ code: 'custom', path: ['teams'], message: `duplicate team ${dupTeam}` });
    // A principal in two teams would act as whichever the API happened to find first.
    const teamOfPrincipal = new Map<string, string>();
    env.teams.forEach((team, i) => {
      team.principals.forEach((principal, j) => {
        const other = teamOfPrincipal.get(principal);
        if (other !== undefined && other !== team.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['teams', i, 'principals', j],
            message: `${principal} is already a principal of team ${other}`,
          });
        }
        teamOfPrincipal.set(principal, team.name);
      });
    });
    env.teams.forEach((team, i) => {
      for (const fleet of Object.keys(team.gpuQuota)) {
        if (!fleets.has(fleet)) {
          ctx.addIssue({
            code: 'custom',
            path: ['teams', i, 'gpuQuota', fleet],
            message: `unknown fleet ${fleet}`,
          });
        }
      }
    });
    env.eks.gpuFleets.forEach(({ fleet }, i) => {
      if (!fleets.has(fleet)) {
        ctx.addIssue({
          code: 'custom',
          path: ['eks', 'gpuFleets', i, 'fleet'],
          message: `unknown fleet ${fleet}`,
        });
      }
    });
    const gpuTypes = new Set(env.gpuFleets.map((f) => f.gpuType));
    env.sagemaker.instances.forEach(({ instanceType }, i) => {
      const gpuType = TRAINING_INSTANCES[instanceType]?.gpuType;
      if (gpuType !== undefined && gpuType !== 'cpu' && !gpuTypes.has(gpuType)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sagemaker', 'instances', i, 'instanceType'],
          message: `${instanceType} carries ${gpuType} GPUs, which no fleet has`,
        });
      }
    });
    env.gpuFleets.forEach((fleet, i) => {
      fleet.instanceTypes.forEach((type, j) => {
        if (!hasKnownSize(type)) {
          ctx.addIssue({
            code: 'custom',
            path: ['gpuFleets', i, 'instanceTypes', j],
            message: `unknown size of ${type}`,
          });
        }
      });
    });
  });

export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type EnvironmentInput = z.input<typeof environmentSchema>;
export type EnvironmentName = EnvironmentConfig['name'];

/** GPUs a fleet can hold at full scale, per capacity type. */
export function fleetGpuCapacity(fleet: GpuFleet): { onDemand: number; spot: number } {
  const vcpusPerGpu = vcpusPerGpuOf(fleet);
  return {
    onDemand: Math.floor(fleet.onDemandMaxVcpus / vcpusPerGpu),
    spot: Math.floor(fleet.spotMaxVcpus / vcpusPerGpu),
  };
}

/** vCPUs per GPU of the fleet's largest instance (GPU instances scale both together). */
export function vcpusPerGpuOf(fleet: GpuFleet): number {
  const largest = fleet.instanceTypes.map(instanceVcpus).reduce((a, b) => Math.max(a, b), 0);
  return Math.max(1, largest / fleet.gpusPerInstance);
}
