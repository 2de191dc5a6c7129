import type { TrainingInstanceType } from '@aws-sdk/client-sagemaker';
import type { JobSpec } from '../jobs/spec';
import { fleetOf } from './attempt';

/** One SageMaker training instance type: what a node of that type offers. */
export interface TrainingInstance {
  readonly type: TrainingInstanceType;
  readonly gpus: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
}

const instance = (
  type: TrainingInstanceType,
  gpus: number,
  vcpus: number,
  memoryGiB: number,
): TrainingInstance => ({
  type,
  gpus,
  vcpus,
  memoryGiB,
});

/**
 * SageMaker training instances per fleet (GPU type, or `cpu`), smallest first. A job gets
 * the first one with at least its per-node GPUs, vCPUs and memory, so a 1-GPU job with 48
 * GiB lands on ml.g5.4xlarge rather than an 8-GPU machine.
 *
 * | fleet | instances (GPUs / vCPUs / GiB) |
 * |---|---|
 * | a10g | ml.g5.xlarge 1/4/16 … ml.g5.16xlarge 1/64/256, ml.g5.12xlarge 4/48/192, ml.g5.24xlarge 4/96/384, ml.g5.48xlarge 8/192/768 |
 * | l4 | ml.g6 in the same sizes as g5 |
 * | a100 | ml.p4d.24xlarge 8/96/1152 |
 * | h100 | ml.p5.48xlarge 8/192/2048 |
 * | cpu | ml.m5.xlarge 0/4/16 … ml.m5.24xlarge 0/96/384 |
 */
export const TRAINING_INSTANCES: Readonly<Record<string, readonly TrainingInstance[]>> = {
  // g5 and g6 share a size ladder: 1 GPU up to 16xlarge, then 4 GPUs at 12/24xlarge and 8 at 48xlarge.
  a10g: [
    instance('ml.g5.xlarge', 1, 4, 16),
    instance('ml.g5.2xlarge', 1, 8, 32),
    instance('ml.g5.4xlarge', 1, 16, 64),
    instance('ml.g5.8xlarge', 1, 32, 128),
    instance('ml.g5.16xlarge', 1, 64, 256),
    instance('ml.g5.12xlarge', 4, 48, 192),
    instance('ml.g5.24xlarge', 4, 96, 384),
    instance('ml.g5.48xlarge', 8, 192, 768),
  ],
  l4: [
    instance('ml.g6.xlarge', 1, 4, 16),
    instance('ml.g6.2xlarge', 1, 8, 32),
    instance('ml.g6.4xlarge', 1, 16, 64),
    instance('ml.g6.8xlarge', 1, 32, 128),
    instance('ml.g6.16xlarge', 1, 64, 256),
    instance('ml.g6.12xlarge', 4, 48, 192),
    instance('ml.g6.24xlarge', 4, 96, 384),
    instance('ml.g6.48xlarge', 8, 192, 768),
  ],
  a100: [instance('ml.p4d.24xlarge', 8, 96, 1152)],
  h100: [instance('ml.p5.48xlarge', 8, 192, 2048)],
  cpu: [
    instance('ml.m5.xlarge', 0, 4, 16),
    instance('ml.m5.2xlarge', 0, 8, 32),
    instance('ml.m5.4xlarge', 0, 16, 64),
    instance('ml.m5.12xlarge', 0, 48, 192),
    instance('ml.m5.24xlarge', 0, 96, 384),
  ],
};

/** The smallest instance that holds one node of the job; throws when none does. */
export function trainingInstanceFor(spec: JobSpec): TrainingInstance {
  const { resources } = spec;
  const fleet = fleetOf(spec);
  const fits = (TRAINING_INSTANCES[fleet] ?? []).find(
    (i) => i.gpus >= resources.gpus && i.vcpus >= resources.cpus && i.memoryGiB * 1024 >= resources.memoryMiB,
  );
  if (fits === undefined) {
    throw new Error(
      `no SageMaker instance has ${resources.gpus} ${fleet} GPUs, ${resources.cpus} vCPUs and ${resources.memoryMiB} MiB`,
    );
  }
  return fits;
}
