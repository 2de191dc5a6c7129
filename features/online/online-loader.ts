import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ServedView } from '../catalog';
import { entityKey, type JoinKeyValue } from './entity-key';
import { ONLINE_TABLE } from './online-table';
import type { OnlineWriter } from './online-writer';
import type { RecordWrite } from './ports';
import type { FeatureValue } from './record';

/**
 * One row of a materialization delta (what the Spark job writes for the online store, JSON
 * lines under `online/<view>/<version>/<sequence>/`): join keys, event and creation time in
 * microseconds, and the view's features by name.
 */
export type DeltaRow = Record<string, FeatureValue>;

export interface LoadReport {
  readonly rows: number;
  readonly written: number;
  readonly stale: number;
  readonly batches: number;
}

/**
 * Offline → online in bounded memory: reads delta rows as they stream in and writes them in
 * batches of `batchRows` through the same conditional write path as pushes, so a replayed or
 * out-of-order delta can never overwrite a newer value.
 */
export async function loadDelta(
  view: ServedView,
  rows: AsyncIterable<DeltaRow>,
  writer: OnlineWriter,
  batchRows: number,
  onBatch?: (report: LoadReport) => void,
): Promise<LoadReport> {
  let batch: RecordWrite[] = [];
  const report = { rows: 0, written: 0, stale: 0, batches: 0 };
  const flush = async () => {
    if (batch.length === 0) return;
    const result = await writer.write(batch);
    report.written += result.written;
    report.stale += result.stale;
    report.batches++;
    batch = [];
    onBatch?.({ ...report });
  };
  const { joinKeys } = view.entity;
  const features = view.definition.features;
  for await (const row of rows) {
    report.rows++;
    batch.push({
      key: entityKey(
        view.entity,
        joinKeys.map((k) => row[k.name] as JoinKeyValue),
      ),
      view: view.name,
      record: {
        eventTimeUs: Number(row.event_timestamp_us),
        createdUs: Number(row.created_us),
        version: view.version,
        values: features.map((f) => row[f.name] ?? null),
      },
    });
    if (batch.length >= batchRows) await flush();
  }
  await flush();
  return report;
}

/** Delta rows of a JSON-lines stream (a local file or an S3 object body), one at a time. */
export async function* jsonLines(input: Readable): AsyncIterable<DeltaRow> {
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim()) yield JSON.parse(line) as DeltaRow;
  }
}

/** How far offline → online has got for one view: the last delta loaded in full. */
export interface Watermark {
  readonly version: string;
  /** Iceberg sequence number of the feature table snapshot whose delta was loaded. */
  readonly sequence: number;
  readonly loadedAtMs: number;
}

const watermarkKey = (view: string) => `__watermark__#${view}`;

/** Watermarks live in the online table, one item per view (entity keys never start with `__`). */
export class WatermarkStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async get(view: string): Promise<Watermark | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [ONLINE_TABLE.partitionKey]: { S: watermarkKey(view) } },
        ConsistentRead: true,
      }),
    );
    const m = Item?.w?.M;
    if (!m?.v?.S || !m.s?.N || !m.l?.N) return undefined;
    return { version: m.v.S, sequence: Number(m.s.N), loadedAtMs: Number(m.l.N) };
  }

  /** Moves the watermark forward (a new version restarts it); false if it was already there or past. */
  async advance(view: string, watermark: Watermark): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [ONLINE_TABLE.partitionKey]: { S: watermarkKey(view) } },
          UpdateExpression: 'SET w = :w',
          ConditionExpression: 'attribute_not_exists(w) OR w.v <> :v OR w.s < :s',
          ExpressionAttributeValues: {
            ':w': {
              M: {
                v: { S: watermark.version },
                s: { N: String(watermark.sequence) },
                l: { N: String(watermark.loadedAtMs) },
              },
            },
            ':v': { S: watermark.version },
            ':s': { N: String(watermark.sequence) },
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
