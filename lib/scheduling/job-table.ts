import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { JOB_TABLE } from '../../jobs/store/job-table';
import { acknowledge } from '../nag';

export interface JobTableProps {
  readonly tableName: string;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Refuse DeleteTable, even from CloudFormation. */
  readonly deletionProtection: boolean;
}

/** The item calls DynamoDbJobStore makes (jobs/store/dynamodb-job-store.ts). */
const STORE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'];

/**
 * The job table, shaped by `JOB_TABLE` (the same description the local runtime creates
 * its dynalite table from): string keys, one GSI per access path, on-demand capacity,
 * point-in-time recovery and a customer-managed key.
 */
export class JobTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: JobTableProps) {
    super(scope, id);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });

    this.table = new dynamodb.Table(this, 'Resource', {
      tableName: props.tableName,
      partitionKey: string(JOB_TABLE.partitionKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    for (const index of Object.values(JOB_TABLE.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: string(index.partitionKey),
        sortKey: string(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    acknowledge(this.table, {
      'NIST.800.53.R5-DynamoDBInBackupPlan':
        'Point-in-time recovery keeps 35 days of continuous, restorable history of this table; the rows are operational job state whose long-term record is in the backends and CloudWatch Logs, so a separate AWS Backup plan would only duplicate it.',
    });
  }

  /** ARNs of the table and each of its indexes, by name rather than `index/*`. */
  public get arns(): string[] {
    const { tableArn } = this.table;
    return [tableArn, ...Object.values(JOB_TABLE.indexes).map((index) => `${tableArn}/index/${index.name}`)];
  }

  /**
   * What a DynamoDbJobStore needs: its item calls on the table and indexes, and the key
   * only as DynamoDB uses it on the caller's behalf.
   */
  public storeStatements(key: kms.IKey): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({ actions: STORE_ACTIONS, resources: this.arns }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    ];
  }
}
