import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

/** A global secondary index with string keys, projecting every attribute. */
export interface TableIndex {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

/**
 * A table's keys as the domain code describes them (the same description the local runtime
 * creates its dynalite table from): string attributes throughout.
 */
export interface TableDescription {
  readonly partitionKey: string;
  /** @default - no secondary index */
  readonly indexes?: Readonly<Record<string, TableIndex>>;
}

export interface EncryptedTableProps {
  readonly tableName: string;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Refuse DeleteTable, even from CloudFormation. */
  readonly deletionProtection: boolean;
}

export interface EncryptedTableDefinition extends EncryptedTableProps {
  readonly description: TableDescription;
  /** Why point-in-time recovery is enough without an AWS Backup plan (NIST.800.53.R5-DynamoDBInBackupPlan). */
  readonly backupPlanReason: string;
}

/**
 * A DynamoDB table built from its description: on-demand capacity, point-in-time recovery
 * and a customer-managed key. The table is the construct's `Resource` child.
 */
export class EncryptedTable extends Construct {
  public readonly table: dynamodb.Table;
  private readonly indexes: readonly TableIndex[];

  constructor(scope: Construct, id: string, props: EncryptedTableDefinition) {
    super(scope, id);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.indexes = Object.values(props.description.indexes ?? {});
    this.table = new dynamodb.Table(this, 'Resource', {
      tableName: props.tableName,
      partitionKey: string(props.description.partitionKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    for (const index of this.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: string(index.partitionKey),
        sortKey: string(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    acknowledge(this.table, { 'NIST.800.53.R5-DynamoDBInBackupPlan': props.backupPlanReason });
  }

  /** ARNs of the table and each of its indexes, by name rather than `index/*`. */
  public get arns(): string[] {
    const { tableArn } = this.table;
    return [tableArn, ...this.indexes.map((index) => `${tableArn}/index/${index.name}`)];
  }

  /** `actions` on the table and its indexes, and the key only as DynamoDB uses it on the caller's behalf. */
  protected itemStatements(actions: string[], key: kms.IKey): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({ actions, resources: this.arns }),
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
