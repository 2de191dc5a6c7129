import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DataConfig } from '../../config/data';
import { accessLogBucket, encryptedBucket } from '../buckets';

export interface DataBucketsProps {
  /** `drivetrain-<env>`: buckets are `<prefix>-<account>-raw` and so on. */
  readonly namePrefix: string;
  readonly key: kms.IKey;
  readonly config: DataConfig;
  readonly removalPolicy: RemovalPolicy;
}

/** Read, write or read-write access to objects under one prefix of one bucket. */
export type ObjectAccess = 'read' | 'write' | 'read-write';

const ACTIONS: Record<ObjectAccess, string[]> = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject', 's3:AbortMultipartUpload'],
  // Iceberg rewrites metadata and, on expiry, deletes the files of old snapshots.
  'read-write': ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
};

const SINGLE_REGION =
  'Each environment is one region; versioning plus RETAIN protect the objects, and cross-region replication is a disaster-recovery choice left to each organisation.';

/**
 * The data lake's buckets: raw (vehicle uploads, EventBridge notifications on, tiered to
 * cheaper storage with age), curated (the Iceberg warehouse and run files) and quarantine
 * (rejected and corrupt inputs with their reasons). All KMS-encrypted with one key,
 * versioned, TLS-only, public access blocked, with server access logs.
 */
export class DataBuckets extends Construct {
  public readonly raw: s3.Bucket;
  public readonly curated: s3.Bucket;
  public readonly quarantine: s3.Bucket;
  public readonly accessLogs: s3.Bucket;
  /** Literal bucket names, for ARNs, event patterns and the workflow's substitutions. */
  public readonly names: { readonly raw: string; readonly curated: string; readonly quarantine: string };
  private readonly key: kms.IKey;
  private readonly nameOf = new Map<s3.IBucket, string>();

  constructor(scope: Construct, id: string, props: DataBucketsProps) {
    super(scope, id);
    const { config, removalPolicy } = props;
    this.key = props.key;
    const account = Stack.of(this).account;
    const bucketName = (role: string) => `${props.namePrefix}-${account}-${role}`;
    this.names = {
      raw: bucketName('raw'),
      curated: bucketName('curated'),
      quarantine: bucketName('quarantine'),
    };

    this.accessLogs = accessLogBucket(this, 'AccessLogs', {
      bucketName: bucketName('data-access-logs'),
      removalPolicy,
      singleRegionReason: SINGLE_REGION,
    });

    const bucket = (
      bucketId: string,
      role: string,
      lifecycleRules: s3.LifecycleRule[],
      eventBridge = false,
    ) => {
      const created = encryptedBucket(this, bucketId, {
        bucketName: bucketName(role),
        key: this.key,
        accessLogs: this.accessLogs,
        accessLogsPrefix: `${role}/`,
        lifecycleRules,
        removalPolicy,
        singleRegionReason: SINGLE_REGION,
      });
      if (eventBridge) {
        // Set on the bucket itself; `eventBridgeEnabled` would deploy a custom-resource Lambda for it.
        (created.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
          eventBridgeConfiguration: { eventBridgeEnabled: true },
        };
      }
      this.nameOf.set(created, bucketName(role));
      return created;
    };

    const { raw } = config;
    const transitions: s3.Transition[] = [
      {
        storageClass: s3.StorageClass.INTELLIGENT_TIERING,
        transitionAfter: Duration.days(raw.intelligentTieringAfterDays),
      },
    ];
    if (raw.archive) {
      transitions.push({
        storageClass: new s3.StorageClass(raw.archive.storageClass),
        transitionAfter: Duration.days(raw.archive.afterDays),
      });
    }
    this.raw = bucket(
      'Raw',
      'raw',
      [{ transitions, noncurrentVersionExpiration: Duration.days(raw.noncurrentVersionDays) }],
      true,
    );
    // Iceberg keeps table history as snapshots; an old S3 version of a data file is never read.
    this.curated = bucket('Curated', 'curated', [{ noncurrentVersionExpiration: Duration.days(30) }]);
    this.quarantine = bucket('Quarantine', 'quarantine', [
      {
        expiration: Duration.days(config.quarantineRetentionDays),
        noncurrentVersionExpiration: Duration.days(config.quarantineRetentionDays),
      },
    ]);
  }

  /**
   * Least-privilege statements for objects under `prefix` (`*` wildcards allowed) of one
   * bucket: the object actions, ListBucket limited to that prefix, and the data key only as
   * S3 uses it.
   */
  public access(bucket: s3.IBucket, prefix: string, access: ObjectAccess): iam.PolicyStatement[] {
    const writes = access !== 'read';
    return [
      new iam.PolicyStatement({
        actions: ACTIONS[access],
        resources: [this.objectsArn(bucket, `${prefix}*`)],
      }),
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.objectsArn(bucket)],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      }),
      new iam.PolicyStatement({
        actions: writes ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    ];
  }

  /**
   * The literal (token-free) ARN of one of these buckets, or of its objects matching
   * `pattern`, so policies and their acknowledgements read plainly.
   */
  public objectsArn(bucket: s3.IBucket, pattern?: string): string {
    const name = this.nameOf.get(bucket);
    if (!name) throw new Error(`${bucket.node.path} is not one of the data buckets`);
    return Stack.of(this).formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: name,
      resourceName: pattern,
    });
  }

  /** `s3://<bucket>/<key>` with the literal bucket name. */
  public uri(bucket: s3.IBucket, key = ''): string {
    this.objectsArn(bucket);
    return `s3://${this.nameOf.get(bucket)}/${key}`;
  }
}
