import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface AccessLogBucketProps {
  /** @default - a name CloudFormation generates */
  readonly bucketName?: string;
  readonly removalPolicy: RemovalPolicy;
  /** Why the bucket is not replicated to another region (NIST.800.53.R5-S3BucketReplicationEnabled). */
  readonly singleRegionReason: string;
}

/**
 * The bucket S3 delivers other buckets' server access logs to: SSE-S3 (the only encryption
 * access logging delivers to), versioned, TLS-only, public access blocked, logs kept a year.
 */
export function accessLogBucket(scope: Construct, id: string, props: AccessLogBucketProps): s3.Bucket {
  const { removalPolicy, singleRegionReason, ...name } = props;
  const bucket = new s3.Bucket(scope, id, {
    ...name,
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    removalPolicy: props.removalPolicy,
  });
  acknowledge(bucket, {
    'NIST.800.53.R5-S3DefaultEncryptionKMS':
      'S3 server access logging delivers only to SSE-S3 encrypted buckets.',
    'NIST.800.53.R5-S3BucketReplicationEnabled': props.singleRegionReason,
  });
  return bucket;
}

export interface EncryptedBucketProps {
  readonly bucketName: string;
  readonly key: kms.IKey;
  /** Where S3 delivers this bucket's server access logs, under `accessLogsPrefix`. */
  readonly accessLogs: s3.IBucket;
  readonly accessLogsPrefix: string;
  /** Rules besides aborting incomplete multipart uploads after seven days. */
  readonly lifecycleRules: s3.LifecycleRule[];
  readonly removalPolicy: RemovalPolicy;
  /** Why the bucket is not replicated to another region (NIST.800.53.R5-S3BucketReplicationEnabled). */
  readonly singleRegionReason: string;
}

/**
 * A data bucket: KMS-encrypted with a bucket key, versioned, TLS-only, public access
 * blocked, owner-enforced, with server access logs.
 */
export function encryptedBucket(scope: Construct, id: string, props: EncryptedBucketProps): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    bucketName: props.bucketName,
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: props.key,
    bucketKeyEnabled: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: props.accessLogs,
    serverAccessLogsPrefix: props.accessLogsPrefix,
    lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7) }, ...props.lifecycleRules],
    removalPolicy: props.removalPolicy,
  });
  acknowledge(bucket, { 'NIST.800.53.R5-S3BucketReplicationEnabled': props.singleRegionReason });
  return bucket;
}
