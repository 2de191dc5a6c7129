import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { startLocalDynamoDb } from '../../local/dynalite';

/**
 * dynalite writes an item and its index entries separately, so a kill -9 can leave an index
 * that misses an item or lists it under a key it no longer has (the chaos run saw a job stuck
 * DISPATCHED: absent from `byActiveState`). The corruption is made here directly in the
 * LevelDB store while dynalite is stopped; the next start must serve exact indexes again.
 */
interface LevelStore {
  open(): Promise<void>;
  close(): Promise<void>;
  iterator(range: { gte: string; lt: string }): AsyncIterable<[string, { id: { S: string } }]>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}
const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const { Level } = fromDynalite('level') as { Level: new (path: string, options: object) => LevelStore };

const TABLE = 'jobs';
const INDEX_PREFIX = `index-global~${TABLE}~byState~`;
let path: string;

beforeEach(() => {
  path = mkdtempSync(join(tmpdir(), 'drivetrain-dynalite-repair-'));
});
afterEach(() => {
  rmSync(path, { recursive: true, force: true });
  rmSync(cleanMarker(), { force: true });
});
const cleanMarker = () => `${path}.closed-cleanly`;

async function withDynalite<T>(use: (client: DynamoDBClient) => Promise<T>): Promise<T> {
  const dynamo = await startLocalDynamoDb({ path });
  try {
    return await use(dynamo.client);
  } finally {
    await dynamo.close();
  }
}

async function withStore<T>(use: (store: LevelStore) => Promise<T>): Promise<T> {
  const store = new Level(path, { valueEncoding: 'json' });
  await store.open();
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

async function indexEntries(store: LevelStore): Promise<Array<[string, { id: { S: string } }]>> {
  const entries: Array<[string, { id: { S: string } }]> = [];
  for await (const entry of store.iterator({ gte: INDEX_PREFIX, lt: `${INDEX_PREFIX}\xFF` }))
    entries.push(entry);
  return entries;
}

const createJobsTable = async (client: DynamoDBClient) => {
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'state', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byState',
          KeySchema: [{ AttributeName: 'state', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
};

const setState = (id: string, state: string, note: string) =>
  new UpdateItemCommand({
    TableName: TABLE,
    Key: { id: { S: id } },
    UpdateExpression: 'SET #state = :state, note = :note',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: { ':state': { S: state }, ':note': { S: note } },
  });

async function inState(client: DynamoDBClient, state: string) {
  const { Items = [] } = await client.send(
    new QueryCommand({
      TableName: TABLE,
      IndexName: 'byState',
      KeyConditionExpression: '#state = :state',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':state': { S: state } },
    }),
  );
  return Items.map((item) => `${item.id?.S}:${item.note?.S}`).sort();
}

test('a restart rebuilds secondary indexes a cut-short write left missing, stale or outdated', async () => {
  await withDynalite(async (client) => {
    await createJobsTable(client);
    for (const id of ['lost', 'moved', 'edited', 'intact']) {
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { id: { S: id }, state: { S: 'PENDING' }, note: { S: 'v1' } },
        }),
      );
    }
  });
  const pendingEntryOf = await withStore(
    async (store) => new Map((await indexEntries(store)).map(([key, value]) => [value.id.S, key])),
  );

  await withDynalite(async (client) => {
    await client.send(setState('lost', 'DISPATCHED', 'v2'));
    await client.send(setState('moved', 'DISPATCHED', 'v2'));
    await client.send(setState('edited', 'PENDING', 'v2'));
  });
  // The corruptions a kill -9 between dynalite's separate writes leaves behind.
  await withStore(async (store) => {
    const entries = await indexEntries(store);
    const entryOf = (id: string) => entries.find(([, value]) => value.id.S === id)!;
    const asPending = (id: string) => ({ id: { S: id }, state: { S: 'PENDING' }, note: { S: 'v1' } });
    // The new entry never written; the old one never deleted; the projection never rewritten.
    await store.del(entryOf('lost')[0]);
    await store.put(pendingEntryOf.get('moved')!, asPending('moved'));
    await store.put(entryOf('edited')[0], asPending('edited'));
  });
  // A kill -9 leaves no clean-close marker; this store's last run ended with a clean close.
  rmSync(cleanMarker());

  const { dispatched, pending } = await withDynalite(async (client) => ({
    dispatched: await inState(client, 'DISPATCHED'),
    pending: await inState(client, 'PENDING'),
  }));
  expect(dispatched).toEqual(['lost:v2', 'moved:v2']);
  expect(pending).toEqual(['edited:v2', 'intact:v1']);
  // Exactly one entry per item: nothing stale is left for a later query to find.
  expect(await withStore(async (store) => (await indexEntries(store)).length)).toBe(4);
});

test('a clean close lets the next start skip the pass; a kill -9 of the server does not', async () => {
  const runDir = `${path}-run`;
  let restarted!: () => void;
  const restart = new Promise<void>((resolve) => {
    restarted = resolve;
  });
  const dynamo = await startLocalDynamoDb({ path, runDir, onRestart: () => restarted() });
  try {
    await createJobsTable(dynamo.client);
    await dynamo.client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { id: { S: 'a' }, state: { S: 'PENDING' }, note: { S: 'v1' } },
      }),
    );
    const { pid } = JSON.parse(readFileSync(join(runDir, 'dynalite.pid'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    await restart;
    expect(existsSync(cleanMarker())).toBe(false);
  } finally {
    await dynamo.close();
    rmSync(runDir, { recursive: true, force: true });
  }
  expect(existsSync(cleanMarker())).toBe(true);

  // Only dynalite writes the store, so after a clean close its indexes are whole and the next
  // start trusts them: an entry removed behind its back stays removed, proving the pass skipped.
  await withStore(async (store) => store.del((await indexEntries(store))[0]![0]));
  expect(await withDynalite((client) => inState(client, 'PENDING'))).toEqual([]);
  // That start consumed the marker before opening the store, and its clean close left a new one.
  expect(existsSync(cleanMarker())).toBe(true);
  rmSync(cleanMarker());
  expect(await withDynalite((client) => inState(client, 'PENDING'))).toEqual(['a:v1']);
});
