import {
  type AttributeValue,
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ONLINE_TABLE } from './online-table';
import type { OnlineStore, RecordWrite } from './ports';
import { recordFromJson, type ViewRecord, valuesJson } from './record';

/** BatchGetItem takes at most 100 keys per call. */
export const BATCH_GET_LIMIT = 100;

export interface RetryPolicy {
  /** Attempts for one chunk's unprocessed keys before the read fails. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** AWS's advice for BatchGetItem's UnprocessedKeys: exponential backoff with full jitter. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 10, maxDelayMs: 1_000 };

export interface DynamoDbOnlineStoreOptions {
  readonly retry?: RetryPolicy;
  /** Conditional writes in flight at once during a materialization or push. */
  readonly writeConcurrency?: number;
  /** Strongly consistent reads (tests); eventually consistent reads cost half. */
  readonly consistentRead?: boolean;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class UnprocessedKeysExhausted extends Error {
  constructor(readonly remaining: number) {
    super(`BatchGetItem left ${remaining} keys unprocessed after every retry`);
    this.name = 'UnprocessedKeysExhausted';
  }
}

/** The online store on DynamoDB (AWS and dynalite alike); layout in online-table.ts. */
export class DynamoDbOnlineStore implements OnlineStore {
  private readonly retry: RetryPolicy;
  private readonly writeConcurrency: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: DynamoDbOnlineStoreOptions = {},
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.writeConcurrency = options.writeConcurrency ?? 32;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async read(
    keys: readonly string[],
    views: readonly string[],
  ): Promise<Map<string, Map<string, ViewRecord>>> {
    const unique = [...new Set(keys)];
    const names: Record<string, string> = { '#k': ONLINE_TABLE.partitionKey };
    views.forEach((view, i) => {
      names[`#v${i}`] = ONLINE_TABLE.viewAttribute(view);
    });
    const projection = Object.keys(names).join(', ');
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT)
      chunks.push(unique.slice(i, i + BATCH_GET_LIMIT));
    const items = (await Promise.all(chunks.map((chunk) => this.readChunk(chunk, projection, names)))).flat();

    const result = new Map<string, Map<string, ViewRecord>>();
    for (const item of items) {
      const key = item[ONLINE_TABLE.partitionKey]?.S;
      if (key === undefined) continue;
      const records = new Map<string, ViewRecord>();
      for (const view of views) {
        const record = recordOf(item[ONLINE_TABLE.viewAttribute(view)]);
        if (record) records.set(view, record);
      }
      result.set(key, records);
    }
    return result;
  }

  private async readChunk(
    keys: string[],
    projection: string,
    names: Record<string, string>,
  ): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let pending: Record<string, AttributeValue>[] = keys.map((key) => ({
      [ONLINE_TABLE.partitionKey]: { S: key },
    }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        if (attempt >= this.retry.maxAttempts) throw new UnprocessedKeysExhausted(pending.length);
        const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        await this.sleep(this.random() * cap);
      }
      const response = await this.client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: pending,
              ProjectionExpression: projection,
              ExpressionAttributeNames: names,
              ConsistentRead: this.options.consistentRead,
            },
          },
        }),
      );
      items.push(...(response.Responses?.[this.tableName] ?? []));
      pending = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return items;
  }

  async write(writes: readonly RecordWrite[]): Promise<boolean[]> {
    const won = new Array<boolean>(writes.length).fill(false);
    let next = 0;
    const worker = async () => {
      while (next < writes.length) {
        const i = next++;
        won[i] = await this.writeOne(writes[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.writeConcurrency, writes.length) }, worker));
    return won;
  }

  private async writeOne({ key, view, record }: RecordWrite): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [ONLINE_TABLE.partitionKey]: { S: key } },
          UpdateExpression: 'SET #a = :r',
          // Newer event time wins; a tie goes to the later computation; another version always replaces.
          ConditionExpression:
            'attribute_not_exists(#a) OR #a.#v <> :v OR #a.#t < :t OR (#a.#t = :t AND #a.#c < :c)',
          ExpressionAttributeNames: {
            '#a': ONLINE_TABLE.viewAttribute(view),
            '#t': 't',
            '#c': 'c',
            '#v': 'v',
          },
          ExpressionAttributeValues: {
            ':r': {
              M: {
                t: { N: String(record.eventTimeUs) },
                c: { N: String(record.createdUs) },
                v: { S: record.version },
                d: { S: valuesJson(record.values) },
              },
            },
            ':t': { N: String(record.eventTimeUs) },
            ':c': { N: String(record.createdUs) },
            ':v': { S: record.version },
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function recordOf(value: AttributeValue | undefined): ViewRecord | undefined {
  const map = value?.M;
  if (!map?.t?.N || !map.c?.N || map.v?.S === undefined || map.d?.S === undefined) return undefined;
  return recordFromJson(Number(map.t.N), Number(map.c.N), map.v.S, map.d.S);
}
