import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { CheckpointStore, JobKey } from '../ports';

/** Pages of ListObjectsV2 (1,000 keys each) read per job at most. */
const MAX_PAGES = 10;

/**
 * Checkpoints on AWS: `s3://<bucket>/<prefix>/<team>/<job id>/` of the artifacts bucket,
 * where every attempt's DRIVETRAIN_CHECKPOINT_DIR points (SageMaker syncs its checkpoint
 * directory there too). The newest checkpoint is the newest LastModified under the prefix.
 */
export class S3CheckpointStore implements CheckpointStore {
  private readonly prefix: string;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    prefix: string,
  ) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, '');
  }

  /** Parses `s3://bucket/prefix` into a store. */
  static fromUri(s3: S3Client, uri: string): S3CheckpointStore {
    const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (!match) throw new Error(`not an s3:// URI: ${uri}`);
    return new S3CheckpointStore(s3, match[1]!, match[2]!);
  }

  private keyPrefix(job: JobKey): string {
    return `${this.prefix ? `${this.prefix}/` : ''}${job.team}/${job.id}/`;
  }

  locationOf(job: JobKey): string {
    return `s3://${this.bucket}/${this.keyPrefix(job)}`;
  }

  async newestCheckpoint(job: JobKey): Promise<Date | undefined> {
    let newest: Date | undefined;
    let ContinuationToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const listed = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyPrefix(job), ContinuationToken }),
      );
      for (const object of listed.Contents ?? []) {
        if (object.LastModified && (!newest || object.LastModified > newest)) newest = object.LastModified;
      }
      if (!listed.IsTruncated || !listed.NextContinuationToken) break;
      ContinuationToken = listed.NextContinuationToken;
    }
    return newest;
  }
}
