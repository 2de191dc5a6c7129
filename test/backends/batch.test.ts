import type { BatchClient, DescribeJobDefinitionsRequest, ListJobsRequest } from '@aws-sdk/client-batch';
import { describe, expect, test } from 'vitest';
import { BatchBackend, type BatchJobStateChange, batchEventToStatus } from '../../backends/batch';
import { derivedName } from '../../backends/batch-job-definitions';
import { JOB_ID, submission } from './fixtures';
import { RecordingClient } from './recording-client';

const IMAGE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4';
const NAME = `dt-${JOB_ID}-1`;

/** Batch as CDK deployed it: base definitions running IMAGE, no jobs yet unless given. */
function batch(jobs: { jobName: string; jobId: string; createdAt: number }[] = []) {
  const client = new RecordingClient({
    ListJobs: (input: ListJobsRequest) => ({
      jobSummaryList: jobs.filter((j) => input.filters?.[0]?.values?.includes(j.jobName)),
    }),
    DescribeJobDefinitions: ({ jobDefinitionName }: DescribeJobDefinitionsRequest) => ({
      jobDefinitions:
        jobDefinitionName?.startsWith('drivetrain-dev-') && !/-[0-9a-f]{16}$/.test(jobDefinitionName)
          ? [
              {
                jobDefinitionName,
                revision: 3,
                type: 'container',
                containerProperties: { image: IMAGE, privileged: false },
                retryStrategy: { attempts: 3 },
              },
            ]
          : [],
    }),
    SubmitJob: () => ({ jobId: 'batch-job-1', jobName: NAME }),
  });
  return { client, backend: new BatchBackend(client.as<BatchClient>(), { env: 'dev' }) };
}

const ENVIRONMENT = [
  { name: 'WANDB_MODE', value: 'offline' },
  { name: 'DRIVETRAIN_JOB_ID', value: JOB_ID },
  { name: 'DRIVETRAIN_ATTEMPT', value: '1' },
];
const RETRY_ON_HOST_FAILURE = [
  { onStatusReason: 'Host EC2*', action: 'RETRY' },
  { onReason: '*', action: 'EXIT' },
];
const TAGS = {
  project: 'bev',
  'drivetrain:job-id': JOB_ID,
  'drivetrain:team': 'perception',
  'drivetrain:attempt': '1',
};

describe('BatchBackend.submit', () => {
  test('submits a single-node GPU job to the queue of its pool with the team as share', async () => {
    // GIVEN
    const { client, backend } = batch();

    // WHEN
    const result = await backend.submit(submission());

    // THEN
    expect(result).toEqual({ backendJobId: 'batch-job-1' });
    expect(client.inputsOf('SubmitJob')).toEqual([
      {
        jobName: NAME,
        jobQueue: 'drivetrain-dev-a10g-on-demand',
        jobDefinition: 'drivetrain-dev-gpu',
        shareIdentifier: 'perception',
        schedulingPriorityOverride: 500,
        containerOverrides: {
          command: ['python', 'train.py', '--epochs', '10'],
          environment: ENVIRONMENT,
          resourceRequirements: [
            { type: 'GPU', value: '4' },
            { type: 'VCPU', value: '48' },
            { type: 'MEMORY', value: '180000' },
          ],
        },
        timeout: { attemptDurationSeconds: 7200 },
        retryStrategy: { attempts: 3, evaluateOnExit: RETRY_ON_HOST_FAILURE },
        tags: TAGS,
        propagateTags: true,
      },
    ]);
  });

  test('submits a gang job with node overrides to the multi-node pool queue and definition', async () => {
    // GIVEN
    const { client, backend } = batch();
    const gang = submission({
      spec: {
        resources: { gpus: 8, gpuType: 'a100', cpus: 86, memoryMiB: 900_000, nodes: 4 },
        priorityClass: 'critical',
      },
      dispatch: { pool: 'a100-multi-node' },
    });

    // WHEN
    await backend.submit(gang);

    // THEN
    expect(client.inputsOf('SubmitJob')).toEqual([
      {
        jobName: NAME,
        jobQueue: 'drivetrain-dev-a100-multi-node',
        jobDefinition: 'drivetrain-dev-a100-multi-node',
        shareIdentifier: 'perception',
        schedulingPriorityOverride: 1000,
        nodeOverrides: {
          numNodes: 4,
          nodePropertyOverrides: [
            {
              targetNodes: '0:',
              containerOverrides: {
                command: ['python', 'train.py', '--epochs', '10'],
                environment: ENVIRONMENT,
                resourceRequirements: [
                  { type: 'GPU', value: '8' },
                  { type: 'VCPU', value: '86' },
                  { type: 'MEMORY', value: '900000' },
                ],
              },
            },
          ],
        },
        timeout: { attemptDurationSeconds: 7200 },
        retryStrategy: { attempts: 3, evaluateOnExit: RETRY_ON_HOST_FAILURE },
        tags: TAGS,
        propagateTags: true,
      },
    ]);
  });

  test('sends a job without GPUs to the cpu fleet and definition, with no GPU requirement', async () => {
    // GIVEN
    const { client, backend } = batch();
    const cpuJob = submission({
      spec: { resources: { gpus: 0, cpus: 4, memoryMiB: 8192 }, priorityClass: 'preemptible' },
      dispatch: { pool: 'cpu-spot', capacityType: 'spot' },
    });

    // WHEN
    await backend.submit(cpuJob);

    // THEN
    expect(client.inputsOf('SubmitJob')).toMatchObject([
      {
        jobQueue: 'drivetrain-dev-cpu-spot',
        jobDefinition: 'drivetrain-dev-cpu',
        schedulingPriorityOverride: 100,
        containerOverrides: {
          resourceRequirements: [
            { type: 'VCPU', value: '4' },
            { type: 'MEMORY', value: '8192' },
          ],
        },
      },
    ]);
  });

  test('caps retry attempts at the 10 Batch accepts', async () => {
    // GIVEN
    const { client, backend } = batch();

    // WHEN
    await backend.submit(submission({ spec: { retries: 10 } }));

    // THEN
    expect(client.inputsOf('SubmitJob')).toMatchObject([{ retryStrategy: { attempts: 10 } }]);
  });

  test('returns the job already submitted under the attempt name instead of submitting again', async () => {
    // GIVEN a dispatcher that crashed after its submit
    const { client, backend } = batch([{ jobName: NAME, jobId: 'batch-job-0', createdAt: 1 }]);

    // WHEN
    const result = await backend.submit(submission());

    // THEN
    expect(result).toEqual({ backendJobId: 'batch-job-0' });
    expect(client.inputsOf('SubmitJob')).toEqual([]);
  });

  test('registers a copy of the base definition for an image it does not run, and reuses it', async () => {
    // GIVEN
    const { client, backend } = batch();
    const image = 'public.ecr.aws/drivetrain/planning:2.0';
    const derived = derivedName('drivetrain-dev-gpu', image);

    // WHEN
    await backend.submit(submission({ spec: { image } }));
    await backend.submit(submission({ spec: { image }, attempt: 2 }));

    // THEN
    expect(client.inputsOf('RegisterJobDefinition')).toEqual([
      {
        jobDefinitionName: derived,
        type: 'container',
        containerProperties: { image, privileged: false },
        retryStrategy: { attempts: 3 },
        tags: { 'drivetrain:base-definition': 'drivetrain-dev-gpu' },
      },
    ]);
    expect(client.inputsOf('SubmitJob')).toMatchObject([
      { jobDefinition: derived },
      { jobDefinition: derived },
    ]);
  });
});

describe('BatchBackend.findByName', () => {
  test('lists jobs of any status by name on the recorded queue', async () => {
    // GIVEN
    const { client, backend } = batch([{ jobName: NAME, jobId: 'batch-job-7', createdAt: 1 }]);
    const { dispatch } = submission({ dispatch: { queue: 'drivetrain-dev-a10g-on-demand' } });

    // WHEN
    const found = await backend.findByName(dispatch);

    // THEN
    expect(found).toEqual({ backendJobId: 'batch-job-7' });
    expect(client.calls).toEqual([
      {
        command: 'ListJobs',
        input: {
          jobQueue: 'drivetrain-dev-a10g-on-demand',
          filters: [{ name: 'JOB_NAME', values: [NAME] }],
        },
      },
    ]);
  });

  test('without a recorded queue, searches the queue of the pool', async () => {
    // GIVEN
    const { client, backend } = batch();
    const { dispatch } = submission({ dispatch: { pool: 'a10g-spot', capacityType: 'spot' } });

    // WHEN
    const found = await backend.findByName(dispatch);

    // THEN
    expect(found).toBeUndefined();
    expect(client.inputsOf('ListJobs').map((i) => (i as ListJobsRequest).jobQueue)).toEqual([
      'drivetrain-dev-a10g-spot',
    ]);
  });

  test('picks the newest of several jobs with the name', async () => {
    // GIVEN
    const { backend } = batch([
      { jobName: NAME, jobId: 'older', createdAt: 1 },
      { jobName: NAME, jobId: 'newer', createdAt: 2 },
    ]);
    const { dispatch } = submission({ dispatch: { queue: 'drivetrain-dev-a10g-on-demand' } });

    // WHEN
    const found = await backend.findByName(dispatch);

    // THEN
    expect(found).toEqual({ backendJobId: 'newer' });
  });
});

describe('BatchBackend.terminate', () => {
  test('terminates the recorded Batch job with the reason', async () => {
    // GIVEN
    const { client, backend } = batch();
    const { dispatch } = submission({ dispatch: { backendJobId: 'batch-job-1' } });

    // WHEN
    await backend.terminate(dispatch, 'preempted for job-b');

    // THEN
    expect(client.calls).toEqual([
      { command: 'TerminateJob', input: { jobId: 'batch-job-1', reason: 'preempted for job-b' } },
    ]);
  });

  test('finds the job by name when its id was never recorded', async () => {
    // GIVEN
    const { client, backend } = batch([{ jobName: NAME, jobId: 'batch-job-3', createdAt: 1 }]);
    const { dispatch } = submission();

    // WHEN
    await backend.terminate(dispatch, 'cancelled by user');

    // THEN
    expect(client.inputsOf('TerminateJob')).toEqual([{ jobId: 'batch-job-3', reason: 'cancelled by user' }]);
  });
});

describe('batchEventToStatus', () => {
  const event = (detail: Omit<BatchJobStateChange['detail'], 'jobName' | 'jobId'>): BatchJobStateChange => ({
    'detail-type': 'Batch Job State Change',
    detail: { jobName: NAME, jobId: 'batch-job-1', ...detail },
  });

  test.each([
    ['SUBMITTED', 'STARTING'],
    ['PENDING', 'STARTING'],
    ['RUNNABLE', 'STARTING'],
    ['STARTING', 'STARTING'],
    ['RUNNING', 'RUNNING'],
  ] as const)('maps %s to %s', (status, state) => {
    // GIVEN / WHEN
    const mapped = batchEventToStatus(event({ status }));

    // THEN
    expect(mapped).toMatchObject({ name: NAME, backendJobId: 'batch-job-1', state });
  });

  test('maps SUCCEEDED to SUCCEEDED with exit code 0', () => {
    // GIVEN / WHEN
    const mapped = batchEventToStatus(
      event({ status: 'SUCCEEDED', attempts: [{ container: { exitCode: 0 } }] }),
    );

    // THEN
    expect(mapped).toEqual({ name: NAME, backendJobId: 'batch-job-1', state: 'SUCCEEDED', exitCode: 0 });
  });

  test('maps an application failure to FAILED with the last attempt exit code', () => {
    // GIVEN / WHEN
    const mapped = batchEventToStatus(
      event({
        status: 'FAILED',
        statusReason: 'Essential container in task exited',
        attempts: [{ container: { exitCode: 3 } }],
      }),
    );

    // THEN
    expect(mapped).toEqual({
      name: NAME,
      backendJobId: 'batch-job-1',
      state: 'FAILED',
      reason: 'Essential container in task exited',
      exitCode: 3,
    });
  });

  test('maps a spot reclaim to INTERRUPTED so the job is requeued, not failed', () => {
    // GIVEN / WHEN
    const mapped = batchEventToStatus(
      event({
        status: 'FAILED',
        statusReason: 'Host EC2 (instance i-0123456789abcdef0) terminated.',
        attempts: [{ container: {}, statusReason: 'Host EC2 (instance i-0123456789abcdef0) terminated.' }],
      }),
    );

    // THEN
    expect(mapped).toEqual({
      name: NAME,
      backendJobId: 'batch-job-1',
      state: 'INTERRUPTED',
      reason: 'Host EC2 (instance i-0123456789abcdef0) terminated.',
    });
  });
});
