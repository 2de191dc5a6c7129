/**
 * Facts about the EC2 instance types Drivetrain runs on, from the EC2 instance type
 * specifications (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html) and the VPC
 * CNI's per-type interface limits: what capacity checks, launch templates and request
 * validation need without a DescribeInstanceTypes call at synth time.
 */
export interface InstanceTypeFacts {
  readonly vcpus: number;
  readonly memoryGiB: number;
  readonly gpus: number;
  /** Has local NVMe instance-store volumes (then SageMaker refuses a volume KMS key). */
  readonly instanceStore: boolean;
  /** Network cards; EFA fleets put one EFA interface on each. */
  readonly networkCards: number;
  /** Network interfaces and IPv4 addresses per interface. */
  readonly maxInterfaces: number;
  readonly ipv4PerInterface: number;
  /** Supports EFA-only interfaces (EFA device without an IP address: Nitro v4 and later). */
  readonly efaOnly: boolean;
}

const facts = (
  vcpus: number,
  memoryGiB: number,
  gpus: number,
  instanceStore: boolean,
  networkCards: number,
  maxInterfaces: number,
  ipv4PerInterface: number,
  efaOnly = false,
): InstanceTypeFacts => ({
  vcpus,
  memoryGiB,
  gpus,
  instanceStore,
  networkCards,
  maxInterfaces,
  ipv4PerInterface,
  efaOnly,
});

/** GPU and system instance types of the shipped environments; add a row to use another type. */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceTypeFacts>> = {
  'g5.12xlarge': facts(48, 192, 4, true, 1, 15, 50),
  'g5.48xlarge': facts(192, 768, 8, true, 1, 7, 50),
  'g6.12xlarge': facts(48, 192, 4, true, 1, 8, 30),
  'g6.48xlarge': facts(192, 768, 8, true, 1, 15, 50),
  'g6e.12xlarge': facts(48, 384, 4, true, 1, 10, 30),
  'g6e.48xlarge': facts(192, 1536, 8, true, 1, 15, 50),
  'p4d.24xlarge': facts(96, 1152, 8, true, 4, 15, 50),
  'p5.48xlarge': facts(192, 2048, 8, true, 32, 64, 50, true),
  'm7i.xlarge': facts(4, 16, 0, false, 1, 4, 15),
  'm7i.2xlarge': facts(8, 32, 0, false, 1, 4, 15),
};

const VCPUS_BY_SIZE: Record<string, number> = {
  xlarge: 4,
  '2xlarge': 8,
  '4xlarge': 16,
  '8xlarge': 32,
  '12xlarge': 48,
  '16xlarge': 64,
  '24xlarge': 96,
  '32xlarge': 128,
  '48xlarge': 192,
};

export function hasKnownSize(instanceType: string): boolean {
  return (
    Object.hasOwn(INSTANCE_TYPES, instanceType) ||
    Object.hasOwn(VCPUS_BY_SIZE, instanceType.split('.')[1] ?? '')
  );
}

/** vCPUs of an EC2 instance type: from the catalogue, else from its size suffix (standard sizes). */
export function instanceVcpus(instanceType: string): number {
  const known = INSTANCE_TYPES[instanceType];
  if (known) return known.vcpus;
  const vcpus = VCPUS_BY_SIZE[instanceType.split('.')[1] ?? ''];
  if (vcpus === undefined) throw new Error(`unknown instance size in ${instanceType}`);
  return vcpus;
}

/** Facts of a catalogued type; throws naming the type when it is missing. */
export function instanceFacts(instanceType: string): InstanceTypeFacts {
  const known = INSTANCE_TYPES[instanceType];
  if (!known) throw new Error(`instance type ${instanceType} is not in config/instance-types.ts`);
  return known;
}
