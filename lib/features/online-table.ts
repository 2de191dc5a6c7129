import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ONLINE_TABLE } from '../../features/online/online-table';
import { EncryptedTable, type EncryptedTableProps } from '../encrypted-table';

/**
 * The online store: one item per entity key with one map attribute per feature view (layout
 * in features/online/online-table.ts).
 */
export class OnlineTable extends EncryptedTable {
  constructor(scope: Construct, id: string, props: EncryptedTableProps) {
    super(scope, id, {
      ...props,
      description: ONLINE_TABLE,
      backupPlanReason:
        'Point-in-time recovery keeps 35 days of restorable history, and every value here is derived: materialization rebuilds it from the Iceberg feature tables, so an AWS Backup plan would only duplicate it.',
    });
  }

  /** Reads (BatchGetItem) and conditional writes (UpdateItem), plus the watermark items' GetItem. */
  public statements(key: kms.IKey): iam.PolicyStatement[] {
    return this.itemStatements(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'], key);
  }
}
