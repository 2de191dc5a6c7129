import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { RUN_TABLE } from '../../step-functions/ingest';

/** Creates the run table in dynalite with the shape the Data stack gives it on AWS. */
export async function ensureRunTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const exists = await client.send(new DescribeTableCommand({ TableName: tableName })).then(
    () => true,
    (error) => {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    },
  );
  if (exists) return;
  const { byKind } = RUN_TABLE.indexes;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [RUN_TABLE.partitionKey, byKind.partitionKey, byKind.sortKey].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      KeySchema: [{ AttributeName: RUN_TABLE.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: byKind.name,
          KeySchema: [
            { AttributeName: byKind.partitionKey, KeyType: 'HASH' },
            { AttributeName: byKind.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}

/** One ingest run as the workflow records it. */
export interface RunRecord {
  readonly runId: string;
  readonly state: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly phase?: string;
  readonly trigger?: string;
  readonly startedAt?: string;
  readonly engine?: string;
  readonly keys: readonly string[];
  readonly requestedObjects: number;
  readonly acceptedObjects: number;
  readonly acceptedBytes: number;
  readonly rejectedObjects: number;
  readonly skippedObjects: number;
  readonly error?: string;
  readonly errorCause?: string;
  readonly progress?: string;
  readonly manifestUri?: string;
  readonly manifest?: RunManifest;
}

/** The job's run manifest (spark/drivetrain_spark/jobs/ingest.py). */
export interface RunManifest {
  readonly runId: string;
  readonly schemaVersion: number | string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly inputs: readonly {
    uri: string;
    bytes: number;
    sha256?: string;
    status: string;
    reason?: string;
    detail?: string;
  }[];
  readonly tables: Readonly<
    Record<string, { rows: number; snapshotId: string; checksum?: string; partitions?: unknown }>
  >;
  readonly unknownCanIds?: Readonly<Record<string, number>>;
}

/** Reads runs and ledger entries back from the run table (what `drivetrain data runs` lists). */
export class RunTableReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** Runs, newest first. */
  async runs(limit = 20): Promise<RunRecord[]> {
    const { byKind } = RUN_TABLE.indexes;
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: byKind.name,
        KeyConditionExpression: '#kind = :run',
        ExpressionAttributeNames: { '#kind': byKind.partitionKey },
        ExpressionAttributeValues: { ':run': { S: 'run' } },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return Items.map(runRecord);
  }

  async run(runId: string): Promise<RunRecord | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `RUN#${runId}` } },
        ConsistentRead: true,
      }),
    );
    return Item ? runRecord(Item) : undefined;
  }

  /** The ledger entry of a raw key: which version was last ingested or rejected, by which run. */
  async object(key: string): Promise<{ etag: string; state: string; runId: string } | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `OBJECT#${key}` } },
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    return { etag: Item.etag?.S ?? '', state: Item.state?.S ?? '', runId: Item.runId?.S ?? '' };
  }
}

/** A run's manifest from the local curated bucket (a file:// URI); undefined elsewhere or before it exists. */
function readManifest(uri: string | undefined): RunManifest | undefined {
  if (!uri?.startsWith('file://')) return undefined;
  const path = fileURLToPath(uri);
  if (!existsSync(path)) return undefined;
  // Snapshot ids are 64-bit strings; manifests written before that held numbers: read those as text.
  return JSON.parse(
    readFileSync(path, 'utf8').replace(/("snapshotId"\s*:\s*)(-?\d+)/g, '$1"$2"'),
  ) as RunManifest;
}

function runRecord(item: Record<string, AttributeValue>): RunRecord {
  const text = (name: string) => item[name]?.S;
  const count = (name: string) => Number(item[name]?.N ?? 0);
  return {
    runId: text('runId') ?? (text('pk') ?? '').replace(/^RUN#/, ''),
    state: (text('state') ?? 'RUNNING') as RunRecord['state'],
    phase: text('phase'),
    trigger: text('trigger'),
    startedAt: text('startedAt'),
    engine: text('engine'),
    keys: item.keys?.SS ?? [],
    requestedObjects: count('requestedObjects'),
    acceptedObjects: count('acceptedObjects'),
    acceptedBytes: count('acceptedBytes'),
    rejectedObjects: count('rejectedObjects'),
    skippedObjects: count('skippedObjects'),
    error: text('error'),
    errorCause: text('errorCause'),
    progress: text('progress'),
    manifestUri: text('manifestUri'),
    manifest: readManifest(text('manifestUri')),
  };
}
