import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FeatureValue } from '../online/record';
import { type OfflinePushLog, pushObjectName } from './push-log';

/** Offline pushes on AWS: one object per push in the feature bucket, KMS-encrypted by the bucket. */
export class S3PushLog implements OfflinePushLog {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly now: () => number = Date.now,
  ) {}

  async append(
    view: string,
    version: string,
    rows: readonly Record<string, FeatureValue>[],
  ): Promise<string> {
    const key = pushObjectName(view, this.now());
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: JSON.stringify({ view, version, rows }),
        ContentType: 'application/json',
      }),
    );
    return key;
  }
}
