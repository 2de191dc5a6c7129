import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import {
  CAPACITY_TYPE_LABEL,
  GPU_TAINT,
  GPU_TYPE_LABEL,
  type RayJob,
  rayJobManifest,
  rayJobToStatus,
  shellQuote,
} from '../../backends/ray-job';
import * as nodegroups from '../../lib/kubernetes/gpu-node-pools';
import { JOB_ID, submission } from './fixtures';

const NAME = `dt-${JOB_ID}-1`;
const IMAGE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4';
const LABELS = { 'drivetrain/job-id': JOB_ID, 'drivetrain/team': 'perception', 'drivetrain/attempt': '1' };

/** A gang of four 4-GPU nodes on spot a10g capacity. */
const gang = () =>
  submission({
    spec: { resources: { gpus: 4, gpuType: 'a10g', cpus: 44, memoryMiB: 170_000, nodes: 4 } },
    dispatch: { backend: 'eks', pool: 'eks-a10g-spot', capacityType: 'spot' },
  });

const gpuPod = (containerName: string) => ({
  metadata: { labels: LABELS, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } },
  spec: {
    containers: [
      {
        name: containerName,
        image: IMAGE,
        env: [
          { name: 'WANDB_MODE', value: 'offline' },
          { name: 'DRIVETRAIN_JOB_ID', value: JOB_ID },
          { name: 'DRIVETRAIN_ATTEMPT', value: '1' },
        ],
        resources: {
          requests: { cpu: '44', memory: '170000Mi', 'nvidia.com/gpu': '4' },
          limits: { cpu: '44', memory: '170000Mi', 'nvidia.com/gpu': '4' },
        },
        volumeMounts: [{ name: 'dshm', mountPath: '/dev/shm' }],
      },
    ],
    nodeSelector: { 'drivetrain/gpu-type': 'a10g', 'drivetrain/capacity-type': 'spot' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present', effect: 'NoSchedule' }],
    volumes: [{ name: 'dshm', emptyDir: { medium: 'Memory' } }],
  },
});

describe('rayJobManifest', () => {
  test('describes a gang of 4 as a head and 3 workers with the per-node resources, in the team namespace', () => {
    // GIVEN
    const attempt = gang();

    // WHEN
    const manifest = rayJobManifest(attempt);

    // THEN
    expect(manifest).toEqual({
      apiVersion: 'ray.io/v1',
      kind: 'RayJob',
      metadata: { name: NAME, namespace: 'team-perception', labels: LABELS },
      spec: {
        entrypoint: 'python train.py --epochs 10',
        submissionMode: 'K8sJobMode',
        shutdownAfterJobFinishes: true,
        ttlSecondsAfterFinished: 3600,
        activeDeadlineSeconds: 7200,
        backoffLimit: 0,
        submitterPodTemplate: {
          metadata: { labels: LABELS },
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'ray-job-submitter',
                image: IMAGE,
                resources: {
                  requests: { cpu: '500m', memory: '512Mi' },
                  limits: { cpu: '500m', memory: '512Mi' },
                },
              },
            ],
          },
        },
        rayClusterSpec: {
          headGroupSpec: { rayStartParams: {}, template: gpuPod('ray-head') },
          workerGroupSpecs: [
            {
              groupName: 'gang',
              replicas: 3,
              minReplicas: 3,
              maxReplicas: 3,
              rayStartParams: {},
              template: gpuPod('ray-worker'),
            },
          ],
        },
      },
    });
  });

  test('runs as many GPU pods as the gang has nodes', () => {
    // GIVEN
    const { rayClusterSpec } = rayJobManifest(gang()).spec;

    // WHEN
    const workers = rayClusterSpec.workerGroupSpecs?.reduce((sum, group) => sum + group.replicas, 0) ?? 0;

    // THEN
    expect(1 + workers).toBe(4);
  });

  test('has no worker group for a single-node job', () => {
    // GIVEN / WHEN
    const manifest = rayJobManifest(submission({ dispatch: { backend: 'eks' } }));

    // THEN
    expect(manifest.spec.rayClusterSpec.workerGroupSpecs).toBeUndefined();
  });

  test('keeps a job without GPUs off the GPU nodes: no GPU request, selector or toleration', () => {
    // GIVEN / WHEN
    const manifest = rayJobManifest(
      submission({
        spec: { resources: { gpus: 0, cpus: 2, memoryMiB: 4096 } },
        dispatch: { backend: 'eks' },
      }),
    );

    // THEN
    const head = manifest.spec.rayClusterSpec.headGroupSpec.template.spec;
    expect(head.containers[0]?.resources?.limits).toEqual({ cpu: '2', memory: '4096Mi' });
    expect(head.nodeSelector).toBeUndefined();
    expect(head.tolerations).toBeUndefined();
  });

  test('selects and tolerates exactly the labels and taint the EKS node groups carry', () => {
    // GIVEN / WHEN / THEN
    expect([GPU_TYPE_LABEL, CAPACITY_TYPE_LABEL, GPU_TAINT]).toEqual([
      nodegroups.GPU_TYPE_LABEL,
      nodegroups.CAPACITY_TYPE_LABEL,
      nodegroups.GPU_TAINT,
    ]);
  });

  test('quotes the entrypoint so a shell hands the exact argv to the program', () => {
    // GIVEN
    const argv = ['--note', "it's $(touch /tmp/pwned) `id` ; rm -rf ~", '', 'a b'];
    const { job, dispatch } = submission({ spec: { command: ['printf', '%s\\n'], args: argv } });

    // WHEN
    const { entrypoint } = rayJobManifest({ job, dispatch }).spec;
    const printed = execFileSync('/bin/sh', ['-c', entrypoint], { encoding: 'utf8' });

    // THEN
    expect(printed).toBe(`${argv.join('\n')}\n`);
  });

  test('leaves plain words unquoted', () => {
    // GIVEN / WHEN / THEN
    expect(['python', '-m', 'train.main', '--lr=3e-4', 'a/b.yaml'].map(shellQuote)).toEqual([
      'python',
      '-m',
      'train.main',
      '--lr=3e-4',
      'a/b.yaml',
    ]);
  });
});

describe('rayJobToStatus', () => {
  const rayJob = (status: RayJob['status']): RayJob => ({
    ...rayJobManifest(gang()),
    metadata: { name: NAME, namespace: 'team-perception', uid: 'uid-1' },
    status,
  });

  test.each([
    [{}, 'STARTING'],
    [{ jobDeploymentStatus: 'Initializing' }, 'STARTING'],
    [{ jobDeploymentStatus: 'Running', jobStatus: 'PENDING' }, 'STARTING'],
    [{ jobDeploymentStatus: 'Running', jobStatus: 'RUNNING' }, 'RUNNING'],
    [{ jobDeploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' }, 'SUCCEEDED'],
    [
      {
        jobDeploymentStatus: 'Complete',
        jobStatus: 'FAILED',
        message: 'Job entrypoint command failed with exit code 3',
      },
      'FAILED',
    ],
    [{ jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded' }, 'FAILED'],
  ])('maps %o to %s', (status, state) => {
    // GIVEN / WHEN
    const mapped = rayJobToStatus(rayJob(status));

    // THEN
    expect(mapped).toMatchObject({ name: NAME, backendJobId: 'uid-1', state });
  });

  test('maps a failure from a lost node (spot reclaim) to INTERRUPTED', () => {
    // GIVEN / WHEN
    const mapped = rayJobToStatus(
      rayJob({
        jobDeploymentStatus: 'Complete',
        jobStatus: 'FAILED',
        message: 'The actor died because its node has died. Node Id: 4f2a',
      }),
    );

    // THEN
    expect(mapped).toMatchObject({ state: 'INTERRUPTED' });
  });
});
