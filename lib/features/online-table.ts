import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ONLINE_TABLE } from '../../features/online/online-table';
import { acknowledge } from '../nag';

export interface OnlineTableProps {
  readonly tableName: string;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * The online store: one item per entity key with one map attribute per feature view (layout
 * in features/online/online-table.ts), on-demand, point-in-time recovery, customer-managed key.
 */
export class OnlineTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: OnlineTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Resource', {
      tableName: props.tableName,
      partitionKey: { name: ONLINE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.table, {
      'NIST.800.53.R5-DynamoDBInBackupPlan':
        'Point-in-time recovery keeps 35 days of restorable history, and every value here is derived: materialization rebuilds it from the Iceberg feature tables, so an AWS Backup plan would only duplicate it.',
    });
  }

  /** Reads (BatchGetItem) and conditional writes (UpdateItem), plus the watermark items' GetItem. */
  public statements(key: kms.IKey): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    ];
  }
}
