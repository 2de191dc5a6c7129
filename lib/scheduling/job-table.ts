import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { JOB_TABLE } from '../../jobs/store/job-table';
import { EncryptedTable, type EncryptedTableProps } from '../encrypted-table';

/** The item calls DynamoDbJobStore makes (jobs/store/dynamodb-job-store.ts). */
const STORE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'];

/**
 * The job table, shaped by `JOB_TABLE` (the same description the local runtime creates
 * its dynalite table from): one GSI per access path.
 */
export class JobTable extends EncryptedTable {
  constructor(scope: Construct, id: string, props: EncryptedTableProps) {
    super(scope, id, {
      ...props,
      description: JOB_TABLE,
      backupPlanReason:
        'Point-in-time recovery keeps 35 days of continuous, restorable history of this table; the rows are operational job state whose long-term record is in the backends and CloudWatch Logs, so a separate AWS Backup plan would only duplicate it.',
    });
  }

  /**
   * What a DynamoDbJobStore needs: its item calls on the table and indexes, and the key
   * only as DynamoDB uses it on the caller's behalf.
   */
  public storeStatements(key: kms.IKey): iam.PolicyStatement[] {
    return this.itemStatements(STORE_ACTIONS, key);
  }
}
