import { describe, expect, test } from 'vitest';
import { allEnvironments, environmentConfig, parseEnvironment } from '../../config/environments';
import { BATCH_JOB_QUEUE_QUOTA, planQueues } from '../../config/queues';
import { type EnvironmentInput, fleetGpuCapacity } from '../../config/schema';

const devInput = (): EnvironmentInput => structuredClone(environmentConfig('dev')) as EnvironmentInput;

describe('environment config', () => {
  test('every shipped environment parses', () => {
    expect(allEnvironments().map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
  });

  test('prod is larger than dev in every fleet they share', () => {
    const dev = environmentConfig('dev');
    const prod = environmentConfig('prod');
    for (const fleet of dev.gpuFleets) {
      const prodFleet = prod.gpuFleets.find((f) => f.name === fleet.name)!;
      const gpus = (f: typeof fleet) => fleetGpuCapacity(f).onDemand + fleetGpuCapacity(f).spot;
      expect(gpus(prodFleet)).toBeGreaterThan(gpus(fleet));
    }
  });

  test('a quota on an unknown fleet is rejected with its field path', () => {
    const input = devInput();
    input.teams[0]!.gpuQuota = { tpu: 8 };

    expect(() => parseEnvironment(input)).toThrow(/teams\.0\.gpuQuota\.tpu: unknown fleet tpu/);
  });

  test('quotas that add up to more than a fleet holds are rejected', () => {
    const input = devInput();
    input.teams[0]!.gpuQuota = { a10g: 10_000 };

    expect(() => parseEnvironment(input)).toThrow(/quotas on a10g add up to/);
  });

  test('a malformed instance type names the field', () => {
    const input = devInput();
    input.gpuFleets[0]!.instanceTypes = ['g5 12xlarge'];

    expect(() => parseEnvironment(input)).toThrow(/gpuFleets\.0\.instanceTypes\.0/);
  });

  test('duplicate team names are rejected', () => {
    const input = devInput();
    input.teams.push(structuredClone(input.teams[0]!));

    expect(() => parseEnvironment(input)).toThrow(/duplicate team perception/);
  });

  test('a role listed under two teams is rejected, naming both', () => {
    const input = devInput();
    const role = 'arn:aws:iam::111111111111:role/researchers';
    input.teams[0]!.principals = [role];
    input.teams[1]!.principals = [role];

    expect(() => parseEnvironment(input)).toThrow(
      /teams\.1\.principals\.0: arn:aws:iam::111111111111:role\/researchers is already a principal of team perception/,
    );
  });

  test('an EKS fleet that does not exist is rejected with its field path', () => {
    const input = devInput();
    input.eks.gpuFleets = [{ fleet: 'tpu', onDemandNodes: 1, spotNodes: 0 }];

    expect(() => parseEnvironment(input)).toThrow(/eks\.gpuFleets\.0\.fleet: unknown fleet tpu/);
  });

  test('a SageMaker instance type outside the catalogue is rejected', () => {
    const input = devInput();
    input.sagemaker!.instances = [{ instanceType: 'ml.z9.huge', onDemandQuota: 1, spotQuota: 0 }];

    expect(() => parseEnvironment(input)).toThrow(/sagemaker\.instances\.0\.instanceType/);
  });
});

describe('queue plan', () => {
  test('stays within the Batch job-queue quota in every environment', () => {
    for (const env of allEnvironments())
      expect(planQueues(env).length).toBeLessThanOrEqual(BATCH_JOB_QUEUE_QUOTA);
  });

  test('never plans a queue on capacity the fleet does not have', () => {
    // dev's l4 fleet is spot-only.
    const l4 = planQueues(environmentConfig('dev')).filter((q) => q.fleet === 'l4');

    expect(l4.map((q) => q.capacity)).toEqual(['spot']);
  });
});
