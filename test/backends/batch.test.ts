import {
  type BatchClient,
  DescribeJobDefinitionsCommand,
  type DescribeJobDefinitionsRequest,
  type JobDefinition,
  type ListJobsRequest,
} from '@aws-sdk/client-batch';
import { describe, expect, test } from 'vitest';
import { BatchBackend, type BatchJobStateChange, batchEventToStatus } from '../../backends/batch';
import { derivedName } from '../../backends/batch-job-definitions';
import { JOB_ID, submission } from './fixtures';
import { RecordingClient } from './recording-client';
import { synthesizedJobDefinitions } from './synthesized';

const IMAGE = '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4';
const NAME = `dt-${JOB_ID}-1`;

/** Batch as CDK deploys it: the synthesized base definitions (running IMAGE_OF_BASE), no jobs yet unless given. */
const DEPLOYED = synthesizedJobDefinitions('dev');
const IMAGE_OF_BASE = DEPLOYED[0]!.containerProperties?.image;

function batch(jobs: { jobName: string; jobId: string; createdAt: number }[] = []) {
  const client: RecordingClient = new RecordingClient('batch', {
    ListJobs: (input: ListJobsRequest) => ({
      jobSummaryList: jobs.filter((j) => input.filters?.[0]?.values?.includes(j.jobName)),
    }),
    DescribeJobDefinitions: ({
      jobDefinitionName,
    }: DescribeJobDefinitionsRequest): { jobDefinitions: JobDefinition[] } => ({
      jobDefinitions: [
        ...DEPLOYED,
        ...client.inputsOf('RegisterJobDefinition').map((r) => ({ ...(r as JobDefinition), revision: 1 })),
      ].filter((d) => d.jobDefinitionName === jobDefinitionName),
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
        jobDefinition: derivedName('drivetrain-dev-gpu', IMAGE),
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
        jobDefinition: derivedName('drivetrain-dev-a100-multi-node', IMAGE),
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
        jobDefinition: derivedName('drivetrain-dev-cpu', IMAGE),
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
    const base = DEPLOYED.find((d) => d.jobDefinitionName === 'drivetrain-dev-gpu')!;
    expect(client.inputsOf('RegisterJobDefinition')).toEqual([
      {
        jobDefinitionName: derived,
        type: 'container',
        parameters: base.parameters,
        schedulingPriority: base.schedulingPriority,
        retryStrategy: base.retryStrategy,
        timeout: base.timeout,
        propagateTags: base.propagateTags,
        platformCapabilities: base.platformCapabilities,
        containerProperties: { ...base.containerProperties, image },
        nodeProperties: undefined,
        tags: { ...base.tags, 'drivetrain:base-definition': 'drivetrain-dev-gpu' },
      },
    ]);
    expect(client.inputsOf('SubmitJob')).toMatchObject([
      { jobDefinition: derived },
      { jobDefinition: derived },
    ]);
  });
});

describe('requests AWS accepts', () => {
  test('a job running the image of the deployed definition submits against the definition itself', async () => {
    const { client, backend } = batch();

    await backend.submit(submission({ spec: { image: IMAGE_OF_BASE } }));

    expect(client.inputsOf('RegisterJobDefinition')).toEqual([]);
    expect(client.inputsOf('SubmitJob')).toMatchObject([{ jobDefinition: 'drivetrain-dev-gpu' }]);
  });

  test('the synthesized multi-node definitions take numNodes overrides (open node range)', () => {
    const multiNode = DEPLOYED.filter((d) => d.type === 'multinode');

    expect(multiNode.length).toBeGreaterThan(0);
    for (const definition of multiNode) {
      expect(definition.nodeProperties?.nodeRangeProperties?.map((r) => r.targetNodes)).toEqual(['0:']);
    }
  });

  test('a numNodes override of a closed node range is rejected, citing the rule', async () => {
    // GIVEN a definition with the closed range the L2 writes by default
    const closed = structuredClone(DEPLOYED.find((d) => d.type === 'multinode')!);
    closed.nodeProperties!.nodeRangeProperties![0]!.targetNodes = '0:255';
    const client = new RecordingClient('batch', {
      DescribeJobDefinitions: () => ({ jobDefinitions: [closed] }),
    });

    // WHEN
    await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: closed.jobDefinitionName }));
    const submit = client.problemsOf('SubmitJob', {
      jobName: NAME,
      jobQueue: 'drivetrain-dev-a100-multi-node',
      jobDefinition: closed.jobDefinitionName,
      nodeOverrides: { numNodes: 4 },
    });

    // THEN
    expect(submit).toEqual([
      expect.stringMatching(
        /^batch-numnodes-open-range: numNodes 4 overrides a definition without an open-ended node range \(0:255\).*API_NodeOverrides/,
      ),
    ]);
  });

  test.each([
    [{ jobName: '-starts-with-a-dash' }, /batch-job-name/],
    [{ shareIdentifier: 'team-a' }, /batch-share-identifier/],
    [{ schedulingPriorityOverride: 10_000 }, /batch-scheduling-priority/],
    [{ timeout: { attemptDurationSeconds: 30 } }, /batch-timeout-minimum/],
    [{ retryStrategy: { attempts: 11 } }, /batch-retry-strategy/],
    [{ arrayProperties: { size: 10_001 } }, /batch-array-size/],
    [
      { containerOverrides: { environment: [{ name: 'AWS_BATCH_JOB_ID', value: 'x' }] } },
      /batch-no-aws-batch-variables/,
    ],
    [{ tags: { 'aws:owner': 'me' } }, /batch-tags/],
  ])('breaking a documented SubmitJob rule (%o) is rejected', (change, rule) => {
    const client = new RecordingClient('batch');
    const request = { jobName: NAME, jobQueue: 'q', jobDefinition: 'drivetrain-dev-cpu', ...change };

    expect(client.problemsOf('SubmitJob', request).join('\n')).toMatch(rule);
  });

  test('the model refuses types, enums and unknown members', () => {
    const client = new RecordingClient('batch');

    expect(
      client.problemsOf('SubmitJob', {
        jobName: NAME,
        jobQueue: 'q',
        jobDefinition: 'd',
        timeout: { attemptDurationSeconds: '60' },
        retryStrategy: { attempts: 2, evaluateOnExit: [{ action: 'retry' }] },
        queue: 'typo',
      }),
    ).toEqual(
      expect.arrayContaining([
        'SubmitJob.timeout.attemptDurationSeconds: expected an integer (Integer)',
        'SubmitJob.retryStrategy.evaluateOnExit[0].action: "retry" is not one of RETRY, EXIT',
        'SubmitJob.queue: not a member of the request',
      ]),
    );
    expect(
      client.problemsOf('DescribeJobs', { jobs: Array.from({ length: 101 }, (_, i) => `id-${i}`) }),
    ).toEqual([]);
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
