import { describe, expect, test } from 'vitest';
import { allEnvironments, environmentConfig } from '../../config/environments';
import { planQueues } from '../../config/queues';
import { type EnvironmentInput, fleetGpuCapacity, parseEnvironment } from '../../config/schema';

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
});

describe('queue plan', () => {
  test('stays within the Batch job-queue quota in every environment', () => {
    for (const env of allEnvironments()) expect(planQueues(env).length).toBeLessThanOrEqual(50);
  });

  test('never plans a queue on capacity the fleet does not have', () => {
    // dev's l4 fleet is spot-only.
    const l4 = planQueues(environmentConfig('dev')).filter((q) => q.fleet === 'l4');

    expect(l4.every((q) => q.computeEnvironments.every((c) => c === 'spot'))).toBe(true);
    expect(l4.some((q) => q.priorityClass === 'critical')).toBe(false);
  });
});
