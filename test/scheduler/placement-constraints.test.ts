import { describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { awsPools } from '../../jobs/cluster';
import { toSchedulerJob } from '../../jobs/dispatcher';
import type { JobRecord } from '../../jobs/job';
import { jobSpecSchema } from '../../jobs/spec';
import { ClusterCapacity } from '../../scheduler/capacity';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { Pool } from '../../scheduler/model';
import { job, NOW, pool, running, state } from './fixtures';

const policy = new DrivetrainPolicy();
const prod = environmentConfig('prod');

function exclusive(id: string, nodeCount: number): Pool {
  return { ...pool(id, nodeCount), backend: 'sagemaker', exclusiveNodes: true };
}

describe('pools whose nodes take one job each (SageMaker)', () => {
  test('GIVEN an exclusive one-node pool WHEN two 1-GPU jobs wait THEN only one starts', () => {
    const decision = policy.decide(
      state({ pools: [exclusive('sm', 1)], pending: [job('j1'), job('j2')] }),
      NOW,
    );

    expect(decision.starts.map((s) => s.jobId)).toEqual(['j1']);
  });

  test('GIVEN the same pool not exclusive WHEN two 1-GPU jobs wait THEN both share the node', () => {
    const decision = policy.decide(state({ pools: [pool('od', 1)], pending: [job('j1'), job('j2')] }), NOW);

    expect(decision.starts).toHaveLength(2);
  });

  test('GIVEN a job running on one node of an exclusive pool WHEN a 2-node gang waits THEN it waits', () => {
    const small = running(job('r1', { team: 'b', priorityClass: 'critical' }), 'sm', [0]);
    const decision = policy.decide(
      state({ pools: [exclusive('sm', 2)], running: [small], pending: [job('gang', { gpus: 16 })] }),
      NOW,
    );

    expect(decision.starts).toEqual([]);
  });

  test('GIVEN a node of an exclusive pool in use WHEN a second job is allocated there THEN it is refused', () => {
    const capacity = ClusterCapacity.of([exclusive('sm', 1)], [running(job('r1'), 'sm', [0])]);

    expect(capacity.hasRoom()).toBe(false);
    expect(() => capacity.allocate(job('j2').resources, { poolId: 'sm', nodes: [0] })).toThrow(
      /over-allocated/,
    );
  });

  test('GIVEN the prod capacity model WHEN pools are built THEN exactly the SageMaker pools are exclusive', () => {
    const pools = awsPools(prod);
    const sagemaker = pools.filter((p) => p.backend === 'sagemaker');

    expect(sagemaker.length).toBeGreaterThan(0);
    for (const p of sagemaker) {
      expect(p.id).toMatch(/^sagemaker-.+-(on-demand|spot)$/);
      expect(p.exclusiveNodes).toBe(true);
    }
    for (const p of pools.filter((candidate) => candidate.backend !== 'sagemaker'))
      expect(p.exclusiveNodes).toBeUndefined();
  });
});

describe('backends that accept the spec', () => {
  const record = (env: Record<string, string> = {}): JobRecord => ({
    id: 'job-1',
    team: 'perception',
    spec: jobSpecSchema.parse({
      name: 'train',
      image: '111111111111.dkr.ecr.us-east-1.amazonaws.com/drivetrain/perception:1.4',
      env,
      command: ['python', 'train.py'],
      resources: { gpus: 1, gpuType: 'a10g', cpus: 4, memoryMiB: 16_384 },
    }),
    state: 'PENDING',
    attempt: 0,
    submittedAt: new Date(NOW * 1000).toISOString(),
    updatedAt: new Date(NOW * 1000).toISOString(),
    preemptions: 0,
    attainedGpuS: 0,
    specHash: 'hash',
    version: 1,
  });

  test('GIVEN a backend-auto job whose spec SageMaker refuses WHEN handed to the scheduler THEN its backends leave SageMaker out', () => {
    // SageMaker takes at most 100 variables, the platform's own included; Batch and EKS take more.
    const variables = Object.fromEntries(Array.from({ length: 99 }, (_, i) => [`V${i}`, 'x']));
    const tooManyForSageMaker = toSchedulerJob(record(variables), 'pending', prod);

    expect(tooManyForSageMaker.backends).toEqual(['batch', 'eks']);
    expect(tooManyForSageMaker.backend).toBeUndefined();
    expect(toSchedulerJob(record(), 'pending', prod).backends).toContain('sagemaker');
  });

  test('GIVEN no environment (the local runtime) WHEN handed to the scheduler THEN any backend will do', () => {
    expect(toSchedulerJob(record()).backends).toBeUndefined();
  });

  test('GIVEN a job Batch alone accepts WHEN Batch is full and SageMaker idle THEN it waits rather than go to SageMaker', () => {
    const batch: Pool = { ...pool('batch-od', 1), backend: 'batch' };
    const sagemaker = exclusive('sm', 1);
    const full = running(job('r1', { team: 'b', priorityClass: 'critical', gpus: 8 }), 'batch-od', [0]);
    const decision = policy.decide(
      state({
        pools: [batch, sagemaker],
        running: [full],
        pending: [
          { ...job('j1'), backends: ['batch', 'eks'] },
          { ...job('j2'), backends: ['sagemaker'] },
        ],
      }),
      NOW,
    );

    expect(decision.starts).toEqual([{ jobId: 'j2', placement: { poolId: 'sm', nodes: [0] } }]);
  });
});
