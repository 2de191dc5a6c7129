import type { Construct } from 'constructs';
import { RUN_TABLE } from '../../step-functions/ingest';
import { EncryptedTable, type EncryptedTableProps } from '../encrypted-table';

/**
 * The ingest runs and the ledger of raw object versions seen, shaped by `RUN_TABLE` (which
 * the local runtime creates its dynalite table from).
 */
export class RunTable extends EncryptedTable {
  constructor(scope: Construct, id: string, props: EncryptedTableProps) {
    super(scope, id, {
      ...props,
      description: RUN_TABLE,
      backupPlanReason:
        "Point-in-time recovery keeps 35 days of restorable history; each run's lasting record is its manifest in the versioned curated bucket, so an AWS Backup plan would only duplicate it.",
    });
  }
}
