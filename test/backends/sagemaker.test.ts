import { ResourceInUse, type SageMakerClient, SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { describe, expect, test } from 'vitest';
import {
  SageMakerBackend,
  type SageMakerBackendOptions,
  sagemakerEventToStatus,
} from '../../backends/sagemaker';
import { JOB_ID, submission } from './fixtures';
import { RecordingClient } from './recording-client';

const NAME = `dt-${JOB_ID}-1`;
const ARN = `arn:aws:sagemaker:us-west-2:222222222222:training-job/${NAME}`;
const OPTIONS: SageMakerBackendOptions = {
  roleArn: 'arn:aws:iam::222222222222:role/drivetrain-staging-sagemaker',
  outputUri: 's3://drivetrain-staging-artifacts/sagemaker/output',
  checkpointUri: 's3://drivetrain-staging-artifacts/sagemaker/checkpoints',
  kmsKeyId: 'arn:aws:kms:us-west-2:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  subnets: ['subnet-0a', 'subnet-0b'],
  securityGroupIds: ['sg-0training'],
};

const serviceError = (name: string, message: string) =>
  new SageMakerServiceException({ name, message, $fault: 'client', $metadata: {} });

function sagemaker(responders: ConstructorParameters<typeof RecordingClient>[1] = {}) {
  const client = new RecordingClient('sagemaker', {
    CreateTrainingJob: () => ({ TrainingJobArn: ARN }),
    ...responders,
  });
  return { client, backend: new SageMakerBackend(client.as<SageMakerClient>(), OPTIONS) };
}

const BASE_REQUEST = {
  TrainingJobName: NAME,
  AlgorithmSpecification: {
    TrainingImage: '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4',
    TrainingInputMode: 'File',
    ContainerEntrypoint: ['python', 'train.py'],
    ContainerArguments: ['--epochs', '10'],
  },
  RoleArn: OPTIONS.roleArn,
  OutputDataConfig: { S3OutputPath: OPTIONS.outputUri, KmsKeyId: OPTIONS.kmsKeyId },
  // g5 has local NVMe storage: no EBS volume, so no volume size and no volume key.
  ResourceConfig: { InstanceType: 'ml.g5.12xlarge', InstanceCount: 2 },
  CheckpointConfig: {
    S3Uri: `s3://drivetrain-staging-artifacts/sagemaker/checkpoints/${JOB_ID}`,
    LocalPath: '/opt/ml/checkpoints',
  },
  VpcConfig: { Subnets: ['subnet-0a', 'subnet-0b'], SecurityGroupIds: ['sg-0training'] },
  Environment: { WANDB_MODE: 'offline', DRIVETRAIN_JOB_ID: JOB_ID, DRIVETRAIN_ATTEMPT: '1' },
  Tags: [
    { Key: 'project', Value: 'bev' },
    { Key: 'drivetrain:job-id', Value: JOB_ID },
    { Key: 'drivetrain:team', Value: 'perception' },
    { Key: 'drivetrain:attempt', Value: '1' },
  ],
  EnableInterContainerTrafficEncryption: true,
};
const twoNodes = { resources: { gpus: 4, gpuType: 'a10g', cpus: 47.5, memoryMiB: 180_000, nodes: 2 } };

describe('SageMakerBackend.submit', () => {
  test('creates an on-demand training job of the attempt', async () => {
    // GIVEN
    const { client, backend } = sagemaker();

    // WHEN
    const result = await backend.submit(
      submission({
        spec: twoNodes,
        dispatch: { backend: 'sagemaker', pool: 'sagemaker-g5.12xlarge-on-demand' },
      }),
    );

    // THEN
    expect(result).toEqual({ backendJobId: ARN });
    expect(client.calls).toEqual([
      {
        command: 'CreateTrainingJob',
        input: {
          ...BASE_REQUEST,
          StoppingCondition: { MaxRuntimeInSeconds: 7200 },
          EnableManagedSpotTraining: false,
        },
      },
    ]);
  });

  test('uses managed spot with a wait budget on top of the runtime when placed on spot', async () => {
    // GIVEN
    const { client, backend } = sagemaker();
    const spot = submission({
      spec: twoNodes,
      dispatch: { pool: 'sagemaker-g5.12xlarge-spot', capacityType: 'spot' },
    });

    // WHEN
    await backend.submit(spot);

    // THEN
    expect(client.inputsOf('CreateTrainingJob')).toEqual([
      {
        ...BASE_REQUEST,
        StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 7200 + 21_600 },
        EnableManagedSpotTraining: true,
      },
    ]);
  });

  test('returns the existing training job when the attempt name is already taken', async () => {
    // GIVEN
    const { client, backend } = sagemaker({
      CreateTrainingJob: () => {
        throw new ResourceInUse({ message: 'Training job names must be unique', $metadata: {} });
      },
      DescribeTrainingJob: () => ({ TrainingJobArn: ARN, TrainingJobStatus: 'InProgress' }),
    });

    // WHEN
    const result = await backend.submit(
      submission({ dispatch: { pool: 'sagemaker-g5.12xlarge-on-demand' } }),
    );

    // THEN
    expect(result).toEqual({ backendJobId: ARN });
    expect(client.inputsOf('DescribeTrainingJob')).toEqual([{ TrainingJobName: NAME }]);
  });
});

describe('instance type', () => {
  test.each([
    ['sagemaker-g5.12xlarge-on-demand', 'ml.g5.12xlarge'],
    ['sagemaker-p4d.24xlarge-spot', 'ml.p4d.24xlarge'],
  ])('a job placed on %s runs on %s', async (pool, instanceType) => {
    // GIVEN
    const { client, backend } = sagemaker();

    // WHEN
    await backend.submit(submission({ dispatch: { backend: 'sagemaker', pool } }));

    // THEN
    expect(client.inputsOf('CreateTrainingJob')).toMatchObject([
      { ResourceConfig: { InstanceType: instanceType } },
    ]);
  });

  test('instances without local storage get an EBS volume encrypted with the key', async () => {
    const { client, backend } = sagemaker();

    await backend.submit(
      submission({
        spec: { resources: { gpus: 0, cpus: 4, memoryMiB: 8192 } },
        dispatch: { pool: 'sagemaker-m5.xlarge-on-demand' },
      }),
    );

    expect(client.inputsOf('CreateTrainingJob')).toMatchObject([
      {
        ResourceConfig: {
          InstanceType: 'ml.m5.xlarge',
          VolumeSizeInGB: 200,
          VolumeKmsKeyId: OPTIONS.kmsKeyId,
        },
      },
    ]);
  });

  test('a volume key on an instance type with local NVMe storage (p4d) is rejected, citing the rule', () => {
    const client = new RecordingClient('sagemaker');
    const request = {
      ...BASE_REQUEST,
      ResourceConfig: { InstanceType: 'ml.p4d.24xlarge', InstanceCount: 1, VolumeKmsKeyId: OPTIONS.kmsKeyId },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    };

    expect(client.problemsOf('CreateTrainingJob', request)).toEqual([
      expect.stringMatching(
        /^sagemaker-no-volume-key-on-instance-storage: VolumeKmsKeyId on ml\.p4d\.24xlarge.*API_ResourceConfig/,
      ),
    ]);
  });

  test.each([
    [
      {
        EnableManagedSpotTraining: true,
        StoppingCondition: { MaxRuntimeInSeconds: 7200, MaxWaitTimeInSeconds: 3600 },
      },
      /sagemaker-spot-wait-time/,
    ],
    [{ StoppingCondition: { MaxRuntimeInSeconds: 29 * 86_400 } }, /sagemaker-max-runtime/],
    [
      { AlgorithmSpecification: { ...BASE_REQUEST.AlgorithmSpecification, TrainingImage: 'python 3' } },
      /sagemaker-image-reference/,
    ],
    [
      { Environment: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x'])) },
      /Environment: 101 entries, at most 100/,
    ],
    [{ Environment: { LONG: 'x'.repeat(513) } }, /Environment\.LONG: 513 characters, at most 512/],
    [{ Tags: [{ Key: 'project', Value: 'a|b' }] }, /does not match|sagemaker-tags/],
    [{ TrainingJobName: `dt-${'x'.repeat(70)}` }, /TrainingJobName: 73 characters, at most 63/],
  ])('breaking the model or a documented rule (%o) is rejected', (change, rule) => {
    const client = new RecordingClient('sagemaker');
    const request = { ...BASE_REQUEST, StoppingCondition: { MaxRuntimeInSeconds: 3600 }, ...change };

    expect(client.problemsOf('CreateTrainingJob', request).join('\n')).toMatch(rule);
  });

  test('refuses a placement on a pool that is not SageMaker capacity', async () => {
    const { backend } = sagemaker();

    await expect(backend.submit(submission({ dispatch: { pool: 'a10g-on-demand' } }))).rejects.toThrow(
      /pool a10g-on-demand is not a SageMaker pool/,
    );
  });
});

describe('SageMakerBackend.findByName', () => {
  test('describes the training job by attempt name', async () => {
    // GIVEN
    const { client, backend } = sagemaker({ DescribeTrainingJob: () => ({ TrainingJobArn: ARN }) });

    // WHEN
    const found = await backend.findByName(submission().dispatch);

    // THEN
    expect(found).toEqual({ backendJobId: ARN });
    expect(client.calls).toEqual([{ command: 'DescribeTrainingJob', input: { TrainingJobName: NAME } }]);
  });

  test('finds nothing when SageMaker answers "Requested resource not found"', async () => {
    // GIVEN
    const { backend } = sagemaker({
      DescribeTrainingJob: () => {
        throw serviceError('ValidationException', 'Requested resource not found.');
      },
    });

    // WHEN
    const found = await backend.findByName(submission().dispatch);

    // THEN
    expect(found).toBeUndefined();
  });
});

describe('SageMakerBackend.terminate', () => {
  test('stops the training job by attempt name', async () => {
    // GIVEN
    const { client, backend } = sagemaker();

    // WHEN
    await backend.terminate(submission().dispatch, 'cancelled by user');

    // THEN
    expect(client.calls).toEqual([{ command: 'StopTrainingJob', input: { TrainingJobName: NAME } }]);
  });

  test('treats stopping a job that already completed as done', async () => {
    // GIVEN
    const { backend } = sagemaker({
      StopTrainingJob: () => {
        throw serviceError(
          'ValidationException',
          'The request was rejected because the training job is in status Completed.',
        );
      },
      DescribeTrainingJob: () => ({ TrainingJobArn: ARN, TrainingJobStatus: 'Completed' }),
    });

    // WHEN / THEN
    await expect(backend.terminate(submission().dispatch, 'cancelled by user')).resolves.toBeUndefined();
  });

  test('passes on a refusal to stop a job that is still running', async () => {
    // GIVEN
    const { backend } = sagemaker({
      StopTrainingJob: () => {
        throw serviceError('ThrottlingException', 'Rate exceeded');
      },
      DescribeTrainingJob: () => ({ TrainingJobArn: ARN, TrainingJobStatus: 'InProgress' }),
    });

    // WHEN / THEN
    await expect(backend.terminate(submission().dispatch, 'cancelled by user')).rejects.toThrow(
      'Rate exceeded',
    );
  });
});

describe('sagemakerEventToStatus', () => {
  const event = (detail: Record<string, string>) => ({
    'detail-type': 'SageMaker Training Job State Change',
    detail: { TrainingJobName: NAME, TrainingJobArn: ARN, TrainingJobStatus: 'InProgress', ...detail },
  });

  test.each([
    [{ SecondaryStatus: 'LaunchingMLInstances' }, 'STARTING'],
    [{ SecondaryStatus: 'Training' }, 'RUNNING'],
    [{ SecondaryStatus: 'Interrupted' }, 'STARTING'],
    [{ TrainingJobStatus: 'Completed', SecondaryStatus: 'Completed' }, 'SUCCEEDED'],
    [{ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' }, 'FAILED'],
  ])('maps %o to %s', (detail, state) => {
    // GIVEN / WHEN
    const mapped = sagemakerEventToStatus(event(detail));

    // THEN
    expect(mapped).toMatchObject({ name: NAME, backendJobId: ARN, state });
  });

  test('maps an algorithm error to FAILED with the exit code it quotes', () => {
    // GIVEN / WHEN
    const mapped = sagemakerEventToStatus(
      event({
        TrainingJobStatus: 'Failed',
        SecondaryStatus: 'Failed',
        FailureReason: 'AlgorithmError: ExecuteUserScriptError: Command "python train.py" exit code: 3',
      }),
    );

    // THEN
    expect(mapped).toMatchObject({ state: 'FAILED', exitCode: 3 });
  });

  test('maps a managed-spot job that never got capacity back to INTERRUPTED', () => {
    // GIVEN / WHEN
    const mapped = sagemakerEventToStatus(
      event({ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxWaitTimeExceeded' }),
    );

    // THEN
    expect(mapped).toEqual({
      name: NAME,
      backendJobId: ARN,
      state: 'INTERRUPTED',
      reason: 'MaxWaitTimeExceeded',
    });
  });

  test('maps a failure from lost capacity to INTERRUPTED', () => {
    // GIVEN / WHEN
    const mapped = sagemakerEventToStatus(
      event({
        TrainingJobStatus: 'Failed',
        SecondaryStatus: 'Failed',
        FailureReason: 'CapacityError: Unable to provision requested ML compute capacity.',
      }),
    );

    // THEN
    expect(mapped).toMatchObject({ state: 'INTERRUPTED' });
  });
});
