import { describe, expect, test } from 'vitest';
import { capacityPools, gpusByType, sageMakerInstanceOf, sageMakerPoolId } from '../../config/capacity';
import { environmentConfig } from '../../config/environments';
import { instanceVcpus } from '../../config/instance-types';
import { awsPools, localPools } from '../../jobs/cluster';
import { type Job, poolAdmits } from '../../scheduler/model';

const dev = environmentConfig('dev');
const prod = environmentConfig('prod');

const job = (overrides: Partial<Job> & { nodes?: number; gpuType?: string }): Job => ({
  id: 'j',
  team: 'perception',
  priorityClass: 'standard',
  resources: {
    gpus: 8,
    cpus: 8,
    memoryMiB: 1024,
    gpuType: overrides.gpuType ?? 'a100',
    nodes: overrides.nodes ?? 1,
  },
  preemptible: false,
  maxRuntimeS: 3600,
  submitTime: 0,
  state: 'pending',
  attainedGpuS: 0,
  ...overrides,
});

describe('capacity model', () => {
  test('every Batch compute environment of a fleet is a pool of its own, multi-node apart', () => {
    // GIVEN dev's a100 fleet: on-demand, spot and a 2-node EFA environment
    const a100 = capacityPools(dev).filter((p) => p.backend === 'batch' && p.fleet === 'a100');

    // THEN
    expect(a100.map((p) => [p.id, p.capacityType, p.jobShapes, p.nodeCount])).toEqual([
      ['a100-on-demand', 'on-demand', 'single-node', 192 / 96],
      ['a100-spot', 'spot', 'single-node', 192 / 96],
      ['a100-multi-node', 'on-demand', 'multi-node', 2],
    ]);
  });

  test('single-node Batch pools hold as many nodes as their max vCPUs buy of the largest instance', () => {
    for (const fleet of prod.gpuFleets) {
      const onDemand = capacityPools(prod).find((p) => p.id === `${fleet.name}-on-demand`);
      const largest = Math.max(...fleet.instanceTypes.map(instanceVcpus));
      expect(onDemand?.nodeCount ?? 0).toBe(Math.floor(fleet.onDemandMaxVcpus / largest));
    }
  });

  test('EKS NodePools and SageMaker quotas are pools of their own backend, never Batch capacity', () => {
    const pools = capacityPools(dev);

    expect(pools.filter((p) => p.backend === 'eks').map((p) => [p.id, p.nodeCount])).toEqual([
      ['eks-a10g-on-demand', 2],
      ['eks-a10g-spot', 2],
    ]);
    expect(
      pools.filter((p) => p.backend === 'sagemaker').map((p) => [p.id, p.nodeCount, p.node.gpus]),
    ).toEqual([
      ['sagemaker-g5.xlarge-on-demand', 2, 1],
      ['sagemaker-g5.xlarge-spot', 2, 1],
      ['sagemaker-g5.12xlarge-on-demand', 1, 4],
      ['sagemaker-g5.12xlarge-spot', 1, 4],
      ['sagemaker-m5.xlarge-on-demand', 2, 0],
    ]);
  });

  test('CPU-only work has pools of its own', () => {
    const cpu = capacityPools(dev).filter((p) => p.gpuType === 'cpu');

    expect(cpu.map((p) => p.id)).toEqual(['cpu-on-demand', 'cpu-spot', 'sagemaker-m5.xlarge-on-demand']);
    expect(cpu.every((p) => p.node.gpus === 0 && p.node.cpus > 0 && p.node.memoryMiB > 0)).toBe(true);
  });

  test('pool ids are unique in every environment', () => {
    for (const env of [dev, prod]) {
      const ids = capacityPools(env).map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  test('a SageMaker pool id names its instance type', () => {
    expect(sageMakerInstanceOf(sageMakerPoolId('ml.p4d.24xlarge', 'spot'))).toBe('ml.p4d.24xlarge');
    expect(sageMakerInstanceOf('a10g-spot')).toBeUndefined();
  });

  test('GPU totals add every backend', () => {
    const gpus = gpusByType(capacityPools(dev)).get('a10g');

    // Batch 384/192*8 + 768/192*8, EKS 2+2 nodes of 8, SageMaker 2+2 x1 and 1+1 x4.
    expect(gpus).toBe(16 + 32 + 32 + 4 + 8);
  });
});

describe('scheduler pools', () => {
  test('AWS pools name their backend, so the dispatcher sends each job to the backend it was placed on', () => {
    const pools = awsPools(dev);

    expect(new Set(pools.map((p) => p.backend))).toEqual(new Set(['batch', 'eks', 'sagemaker']));
    expect(pools.find((p) => p.id === 'a100-multi-node')?.jobShapes).toBe('multi-node');
  });

  test('a gang is admitted by the multi-node pool only; a single-node job never by it', () => {
    const pools = awsPools(dev).filter((p) => p.gpuType === 'a100');
    const admitting = (j: Job) => pools.filter((p) => poolAdmits(p, j)).map((p) => p.id);

    expect(admitting(job({ nodes: 2 }))).toEqual(['a100-multi-node']);
    expect(admitting(job({}))).toEqual(['a100-on-demand', 'a100-spot']);
  });

  test('a job that names a backend is admitted only by pools of that backend', () => {
    const pools = awsPools(dev).filter((p) => p.gpuType === 'a10g');
    const admitting = pools.filter((p) => poolAdmits(p, job({ gpuType: 'a10g', backend: 'eks' })));

    expect(admitting.map((p) => p.id)).toEqual(['eks-a10g-on-demand', 'eks-a10g-spot']);
  });

  test('local pools mirror the Batch layout, run by the local backend', () => {
    const pools = localPools(dev, { nodesPerPool: 2, gpusPerNode: 4 });

    expect(pools.map((p) => p.id)).toEqual(
      capacityPools(dev)
        .filter((p) => p.backend === 'batch')
        .map((p) => p.id),
    );
    expect(pools.every((p) => p.backend === 'local')).toBe(true);
    expect(pools.find((p) => p.id === 'a100-multi-node')).toMatchObject({
      jobShapes: 'multi-node',
      nodeCount: 2,
    });
  });
});
