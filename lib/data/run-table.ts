import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { RUN_TABLE } from '../../step-functions/ingest';
import { acknowledge } from '../nag';

export interface RunTableProps {
  readonly tableName: string;
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

/**
 * The ingest runs and the ledger of raw object versions seen, shaped by `RUN_TABLE` (which
 * the local runtime creates its dynalite table from): on-demand, point-in-time recovery and
 * a customer-managed key.
 */
export class RunTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: RunTableProps) {
    super(scope, id);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    this.table = new dynamodb.Table(this, 'Resource', {
      tableName: props.tableName,
      partitionKey: string(RUN_TABLE.partitionKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    const { byKind } = RUN_TABLE.indexes;
    this.table.addGlobalSecondaryIndex({
      indexName: byKind.name,
      partitionKey: string(byKind.partitionKey),
      sortKey: string(byKind.sortKey),
      projectionType: dynamodb.ProjectionType.ALL,
    });
    acknowledge(this.table, {
      'NIST.800.53.R5-DynamoDBInBackupPlan':
        "Point-in-time recovery keeps 35 days of restorable history; each run's lasting record is its manifest in the versioned curated bucket, so an AWS Backup plan would only duplicate it.",
    });
  }
}
