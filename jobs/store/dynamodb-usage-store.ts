import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { UsageLedger } from '../../scheduler/model';
import type { UsageStore } from '../ports';

/**
 * The usage ledger as one item of the job table. Its id has a `#`, which no job id has, and
 * it carries none of the index attributes, so job queries never see it.
 */
export const USAGE_ITEM_ID = 'dispatcher#usage';

export class DynamoDbUsageStore implements UsageStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.documents = DynamoDBDocumentClient.from(client);
  }

  async load(): Promise<UsageLedger | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { id: USAGE_ITEM_ID }, ConsistentRead: true }),
    );
    return Item ? (JSON.parse(Item.ledger as string) as UsageLedger) : undefined;
  }

  async save(ledger: UsageLedger): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { id: USAGE_ITEM_ID, ledger: JSON.stringify(ledger) },
      }),
    );
  }
}
