import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { expect, test } from 'vitest';
import { S3CheckpointStore } from '../../jobs/store/s3-checkpoint-store';

/** An S3 client that records each ListObjectsV2 input and answers from `pages`, in order. */
function listing(pages: Partial<ListObjectsV2CommandOutput>[]) {
  const inputs: ListObjectsV2Command['input'][] = [];
  const client = {
    send: async (command: ListObjectsV2Command) => {
      expect(command).toBeInstanceOf(ListObjectsV2Command);
      inputs.push(command.input);
      return pages[inputs.length - 1] ?? {};
    },
  } as unknown as S3Client;
  return { client, inputs };
}

const job = { id: '01jd5s7n0pabcdefghjkmn', team: 'perception' };

test('each job has a prefix of its own under the team, the DRIVETRAIN_CHECKPOINT_DIR of its attempts', () => {
  const store = S3CheckpointStore.fromUri(
    listing([]).client,
    's3://drivetrain-dev-artifacts/sagemaker/checkpoints/',
  );

  expect(store.locationOf(job)).toBe(
    's3://drivetrain-dev-artifacts/sagemaker/checkpoints/perception/01jd5s7n0pabcdefghjkmn/',
  );
});

test('the newest checkpoint is the newest LastModified over every page of ListObjectsV2', async () => {
  // GIVEN two pages (ListObjectsV2: IsTruncated with NextContinuationToken means more follow)
  const { client, inputs } = listing([
    {
      Contents: [
        { Key: 'a', LastModified: new Date('2026-11-25T10:00:00Z') },
        { Key: 'b', LastModified: new Date('2026-11-25T10:30:00Z') },
      ],
      IsTruncated: true,
      NextContinuationToken: 'page-2',
    },
    { Contents: [{ Key: 'c', LastModified: new Date('2026-11-25T10:20:00Z') }], IsTruncated: false },
  ]);
  const store = new S3CheckpointStore(client, 'drivetrain-dev-artifacts', 'checkpoints');

  // WHEN
  const newest = await store.newestCheckpoint(job);

  // THEN
  expect(newest).toEqual(new Date('2026-11-25T10:30:00Z'));
  expect(inputs).toEqual([
    { Bucket: 'drivetrain-dev-artifacts', Prefix: 'checkpoints/perception/01jd5s7n0pabcdefghjkmn/' },
    {
      Bucket: 'drivetrain-dev-artifacts',
      Prefix: 'checkpoints/perception/01jd5s7n0pabcdefghjkmn/',
      ContinuationToken: 'page-2',
    },
  ]);
});

test('a job that never checkpointed has no newest checkpoint', async () => {
  const store = new S3CheckpointStore(listing([{ KeyCount: 0, IsTruncated: false }]).client, 'bucket', '');

  expect(await store.newestCheckpoint(job)).toBeUndefined();
});
