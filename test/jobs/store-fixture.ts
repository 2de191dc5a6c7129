import { randomUUID } from 'node:crypto';
import { ensureJobTable } from '../../jobs/store/create-table';
import { DynamoDbJobStore } from '../../jobs/store/dynamodb-job-store';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../local/dynalite';

/** A real DynamoDB API (dynalite, in memory) with a fresh job table per call. */
export async function localStore(): Promise<{ db: LocalDynamoDb; store: DynamoDbJobStore }> {
  const db = await startLocalDynamoDb();
  const table = `jobs-${randomUUID().slice(0, 8)}`;
  await ensureJobTable(db.client, table);
  return { db, store: new DynamoDbJobStore(db.client, table) };
}
