import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket, encryptedBucket } from '../buckets';

export interface ArtifactStoreProps {
  /** A fixed name lets the dispatcher and IAM policies address it without a lookup. */
  readonly bucketName: string;
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

const SINGLE_REGION =
  'Drivetrain deploys one region per environment; versioning plus RETAIN protect the data, and cross-region replication is a disaster-recovery choice left to each organisation.';

/**
 * Checkpoints, model artifacts and SageMaker output: KMS-encrypted, versioned (a bad
 * overwrite of a checkpoint is recoverable), TLS-only, with server access logs.
 */
export class ArtifactStore extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogs: s3.Bucket;
  private readonly bucketName: string;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps) {
    super(scope, id);
    this.bucketName = props.bucketName;
    this.accessLogs = accessLogBucket(this, 'AccessLogs', {
      removalPolicy: props.removalPolicy,
      singleRegionReason: SINGLE_REGION,
    });
    this.bucket = encryptedBucket(this, 'Artifacts', {
      bucketName: props.bucketName,
      key: props.encryptionKey,
      accessLogs: this.accessLogs,
      accessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: props.removalPolicy,
      singleRegionReason: SINGLE_REGION,
    });
  }

  /**
   * A team's own prefix: `teams/<team>/`, with each job's checkpoints under `<job id>/` and
   * model output and logs under `outputs/` and `logs/`.
   */
  public teamPrefix(team: string): string {
    return `teams/${team}/`;
  }

  /** Least-privilege object access under one prefix, for a customer-managed policy. */
  public readStatements(prefix: string, key: kms.IKey): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.objectsArn(`${prefix}*`)] }),
      this.listStatement(prefix),
      new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }),
    ];
  }

  public readWriteStatements(prefix: string, key: kms.IKey): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: [this.objectsArn(`${prefix}*`)],
      }),
      this.listStatement(prefix),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    ];
  }

  /** Literal (token-free) object ARN, so policies and their reviews read plainly. */
  public objectsArn(pattern: string): string {
    return Stack.of(this).formatArn({
      service: 's3',
      region: '',
      account: '',
      resource: this.bucketName,
      resourceName: pattern,
    });
  }

  private listStatement(prefix: string): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    });
  }
}
