import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';

/**
 * The online table's shape, shared by the Features stack (AWS), the local runtime (dynalite)
 * and the store. One item per entity key; one map attribute per feature view:
 *
 *   { key: "drive#b0c9…", fv_drive_motion: { t: <event µs>, c: <created µs>, v: <version>, d: "<values JSON>" },
 *                         fv_drive_imu: { … }, … }
 *
 * A feature service's views of one entity are attributes of one item, so one BatchGetItem
 * (100 keys) reads the whole service for 100 entities, where Feast's DynamoDB store makes one
 * read per view. Each view keeps its own event time, so writes are conditional per view.
 */
export const ONLINE_TABLE = {
  partitionKey: 'key',
  viewAttribute: (view: string) => `fv_${view}`,
} as const;

/** Creates the online table (local runtime and tests; on AWS the Features stack owns it). */
export async function ensureOnlineTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: ONLINE_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: ONLINE_TABLE.partitionKey, KeyType: 'HASH' }],
    }),
  );
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`table ${tableName} did not become active`);
}
