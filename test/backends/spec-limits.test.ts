import { describe, expect, test } from 'vitest';
import { acceptingBackends, backendSpecProblems, candidateBackends } from '../../backends/spec-limits';
import { capacityPools } from '../../config/capacity';
import { environmentConfig } from '../../config/environments';
import type { JobStore } from '../../jobs/ports';
import { JobService } from '../../jobs/service';
import { type JobSpecInput, jobSpecSchema } from '../../jobs/spec';

const dev = environmentConfig('dev');
const ECR_IMAGE = '111111111111.dkr.ecr.us-east-1.amazonaws.com/drivetrain/perception:1.4';

const spec = (overrides: Partial<JobSpecInput> = {}) =>
  jobSpecSchema.parse({
    name: 'train',
    image: ECR_IMAGE,
    command: ['python', 'train.py'],
    resources: { gpus: 1, gpuType: 'a10g', cpus: 4, memoryMiB: 16_384 },
    ...overrides,
  });

const variables = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x']));

describe('backend limits at submit', () => {
  test('SageMaker counts the platform variables against its 100, and says how many are left', () => {
    const problems = backendSpecProblems(spec({ backend: 'sagemaker', env: variables(99) }), dev);

    expect(problems).toEqual([
      {
        field: 'env',
        reason: expect.stringMatching(
          /^SageMaker takes at most 100 variables and the platform sets 2: at most 98 of your own/,
        ),
      },
    ]);
    expect(backendSpecProblems(spec({ backend: 'sagemaker', env: variables(98) }), dev)).toEqual([]);
  });

  test('the same spec is fine on Batch, which has no such limit', () => {
    expect(backendSpecProblems(spec({ backend: 'batch', env: variables(99) }), dev)).toEqual([]);
  });

  test('with backend auto, a spec one backend with capacity accepts is taken, and says which', () => {
    const many = spec({ env: variables(99) });

    expect(backendSpecProblems(many, dev)).toEqual([]);
    expect(acceptingBackends(many, dev)).toEqual(['batch', 'eks']);
  });

  test('with backend auto, a spec no backend accepts is refused with every reason', () => {
    // dev has l4 capacity on Batch only.
    const l4 = { gpus: 1, gpuType: 'l4', cpus: 4, memoryMiB: 1024 };
    const problems = backendSpecProblems(
      spec({ resources: l4, env: { AWS_BATCH_X: 'x' }, tags: { t: 'a|b' } }),
      dev,
    );

    expect(problems).toEqual([
      { field: 'env.AWS_BATCH_X', reason: expect.stringMatching(/reserved for Batch.*\(on batch\)$/) },
      { field: 'tags.t', reason: expect.stringMatching(/\(on batch\)$/) },
    ]);
  });

  test.each([
    ['a Docker Hub short name on SageMaker', { backend: 'sagemaker', image: 'python:3.11' }, 'image'],
    [
      'a 513-character value on SageMaker',
      { backend: 'sagemaker', env: { LONG: 'x'.repeat(513) } },
      'env.LONG',
    ],
    [
      '101 arguments on SageMaker',
      { backend: 'sagemaker', args: Array.from({ length: 101 }, () => 'a') },
      'args',
    ],
    [
      'a 270-character image on Batch',
      { backend: 'batch', image: `registry.example.com/${'a'.repeat(250)}` },
      'image',
    ],
    [
      'a variable named AWS_BATCH_* on Batch',
      { backend: 'batch', env: { AWS_BATCH_JOB_ID: 'fake' } },
      'env.AWS_BATCH_JOB_ID',
    ],
    ['a tag value with | on Batch', { backend: 'batch', tags: { project: 'a|b' } }, 'tags.project'],
    [
      'a RayJob past the API server limit on EKS',
      {
        backend: 'eks',
        env: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`V${i}`, 'x'.repeat(32_000)])),
      },
      'env',
    ],
  ] as const)('%s is rejected naming the field', (_what, overrides, field) => {
    const problems = backendSpecProblems(spec(overrides as Partial<JobSpecInput>), dev);

    expect(problems.map((p) => p.field)).toEqual([field]);
  });

  test('the job API refuses such a spec with the field, before anything is stored', async () => {
    const service = new JobService({ store: {} as JobStore, environment: dev });

    await expect(
      service.submit('perception', {
        ...spec({ backend: 'sagemaker', env: variables(99) }),
        idempotencyKey: undefined,
      }),
    ).rejects.toMatchObject({
      name: 'ValidationFailed',
      fields: [expect.objectContaining({ field: 'env' })],
    });
  });

  test('a backend without capacity for the spec is named, with the ones that have it', () => {
    const problems = backendSpecProblems(
      spec({ backend: 'eks', resources: { gpus: 1, gpuType: 'l4', cpus: 4, memoryMiB: 1024 } }),
      dev,
    );

    expect(problems).toEqual([
      { field: 'backend', reason: 'eks has no l4 capacity that holds this node; batch would' },
    ]);
  });

  test('gangs may go to Batch multi-node, EKS and SageMaker pools of their GPU type, never single-node ones', () => {
    const gang = spec({ resources: { gpus: 8, gpuType: 'a100', cpus: 8, memoryMiB: 1024, nodes: 2 } });

    expect(candidateBackends(gang, capacityPools(dev))).toEqual(['batch']);
  });
});
