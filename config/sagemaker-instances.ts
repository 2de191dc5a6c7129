/** One SageMaker training instance type: what a node of that type offers. */
export interface TrainingInstance {
  /** `ml.<family>.<size>`, as CreateTrainingJob's ResourceConfig.InstanceType takes it. */
  readonly type: string;
  /** Fleet GPU type (`a10g`, `h100`), or `cpu`. */
  readonly gpuType: string;
  readonly gpus: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
  /**
   * Has local NVMe storage, which SageMaker encrypts with a hardware module: CreateTrainingJob
   * refuses `ResourceConfig.VolumeKmsKeyId` for these types
   * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html).
   */
  readonly instanceStore: boolean;
}

const ladder = (
  family: string,
  gpuType: string,
  instanceStore: boolean,
  rows: [string, number, number, number][],
) =>
  rows.map(([size, gpus, vcpus, memoryGiB]) => ({
    type: `ml.${family}.${size}`,
    gpuType,
    gpus,
    vcpus,
    memoryGiB,
    instanceStore,
  }));

/** g5 and g6 share a size ladder: 1 GPU up to 16xlarge, then 4 GPUs at 12/24xlarge and 8 at 48xlarge. */
const G_SIZES: [string, number, number, number][] = [
  ['xlarge', 1, 4, 16],
  ['2xlarge', 1, 8, 32],
  ['4xlarge', 1, 16, 64],
  ['8xlarge', 1, 32, 128],
  ['16xlarge', 1, 64, 256],
  ['12xlarge', 4, 48, 192],
  ['24xlarge', 4, 96, 384],
  ['48xlarge', 8, 192, 768],
];

/** SageMaker training instance types Drivetrain can place jobs on, by type name. */
export const TRAINING_INSTANCES: Readonly<Record<string, TrainingInstance>> = Object.fromEntries(
  [
    ...ladder('g5', 'a10g', true, G_SIZES),
    ...ladder('g6', 'l4', true, G_SIZES),
    ...ladder('p4d', 'a100', true, [['24xlarge', 8, 96, 1152]]),
    ...ladder('p5', 'h100', true, [['48xlarge', 8, 192, 2048]]),
    ...ladder('m5', 'cpu', false, [
      ['xlarge', 0, 4, 16],
      ['2xlarge', 0, 8, 32],
      ['4xlarge', 0, 16, 64],
      ['12xlarge', 0, 48, 192],
      ['24xlarge', 0, 96, 384],
    ]),
  ].map((instance) => [instance.type, instance]),
);
