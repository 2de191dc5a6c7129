import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DispatcherState, DispatcherStateStore } from '../ports';

/**
 * The dispatcher's state as one item of the job table. Its id has a `#`, which no job id
 * has, and it carries none of the index attributes, so job queries never see it.
 */
export const DISPATCHER_STATE_ID = 'dispatcher#state';

export class DynamoDbDispatcherState implements DispatcherStateStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.documents = DynamoDBDocumentClient.from(client);
  }

  async load(): Promise<DispatcherState | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { id: DISPATCHER_STATE_ID } }),
    );
    return Item ? (JSON.parse(Item.state as string) as DispatcherState) : undefined;
  }

  /** JSON text: one attribute is cheaper to write every round than a tree of nested ones. */
  async save(state: DispatcherState): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { id: DISPATCHER_STATE_ID, state: JSON.stringify(state) },
      }),
    );
  }
}
