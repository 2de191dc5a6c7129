import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { JobRecord } from '../job';
import {
  type JobChanges,
  type JobKey,
  JobNotFound,
  type JobPage,
  type JobStore,
  type ListQuery,
  TransitionConflict,
} from '../ports';
import { isTerminal, type JobState, sourcesOf } from '../states';
import { JOB_TABLE, type JobIndex } from './job-table';

/** A page token a client sent back altered or from another query. */
export class InvalidPageToken extends Error {
  constructor() {
    super('nextToken is not a token this API issued for this query');
    this.name = 'InvalidPageToken';
  }
}

type Item = Omit<JobRecord, 'spec'> & {
  /**
   * The spec as JSON text: it is immutable and never queried, and one string costs far less
   * to marshal, store and read back than a tree of nested attributes.
   */
  spec: string;
  submittedKey: string;
  updatedKey: string;
  teamState: string;
  activeState?: JobState;
};

/** Index attributes derived from the record; never set by callers. */
function toItem(job: JobRecord): Item {
  return {
    ...job,
    spec: JSON.stringify(job.spec),
    submittedKey: `${job.submittedAt}#${job.id}`,
    updatedKey: `${job.updatedAt}#${job.id}`,
    teamState: `${job.team}#${job.state}`,
    ...(isTerminal(job.state) ? {} : { activeState: job.state }),
  };
}

function fromItem(item: Record<string, unknown>): JobRecord {
  const {
    submittedKey: _s,
    updatedKey: _u,
    teamState: _t,
    activeState: _a,
    spec,
    ...job
  } = item as unknown as Item;
  return { ...job, spec: JSON.parse(spec) };
}

/** JobStore over DynamoDB; the same code runs against AWS and against dynalite. */
export class DynamoDbJobStore implements JobStore {
  private readonly documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    readonly tableName: string,
  ) {
    this.documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
  }

  async create(job: JobRecord): Promise<{ job: JobRecord; created: boolean }> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(job),
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JOB_TABLE.partitionKey },
        }),
      );
      return { job, created: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.get(job.id);
      if (!existing) throw error;
      return { job: existing, created: false };
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  async listByTeam(query: ListQuery): Promise<JobPage> {
    const index = query.state ? JOB_TABLE.indexes.byTeamState : JOB_TABLE.indexes.byTeam;
    const partition = query.state ? `${query.team}#${query.state}` : query.team;
    const { Items = [], LastEvaluatedKey } = await this.documents.send(
      new QueryCommand({
        ...this.partitionQuery(index, partition),
        ScanIndexForward: false,
        Limit: query.limit,
        ExclusiveStartKey: query.nextToken ? decodeToken(query.nextToken, index, partition) : undefined,
      }),
    );
    return {
      jobs: Items.map(fromItem),
      ...(LastEvaluatedKey ? { nextToken: encodeToken(LastEvaluatedKey) } : {}),
    };
  }

  async listByState(state: JobState, updatedSince?: string): Promise<JobRecord[]> {
    const index = JOB_TABLE.indexes.byActiveState;
    const query = this.partitionQuery(index, state);
    if (updatedSince !== undefined) {
      query.KeyConditionExpression += ' AND #sk > :since';
      query.ExpressionAttributeNames = { ...query.ExpressionAttributeNames, '#sk': index.sortKey };
      query.ExpressionAttributeValues = { ...query.ExpressionAttributeValues, ':since': updatedSince };
    }
    const jobs: JobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const { Items = [], LastEvaluatedKey } = await this.documents.send(
        new QueryCommand({ ...query, ExclusiveStartKey: start }),
      );
      jobs.push(...Items.map(fromItem));
      start = LastEvaluatedKey;
    } while (start);
    return jobs;
  }

  transition(
    job: JobKey,
    to: JobState,
    changes: JobChanges = {},
    expectedVersion?: number,
  ): Promise<JobRecord> {
    return this.write(job, changes, { to, from: sourcesOf(to) }, expectedVersion);
  }

  update(job: JobKey, changes: JobChanges, expectedVersion?: number): Promise<JobRecord> {
    return this.write(job, changes, undefined, expectedVersion);
  }

  private async write(
    { id, team }: JobKey,
    changes: JobChanges,
    move: { to: JobState; from: JobState[] } | undefined,
    expectedVersion: number | undefined,
  ): Promise<JobRecord> {
    const now = new Date().toISOString();
    const names: Record<string, string> = {
      '#id': 'id',
      '#version': 'version',
      '#updatedAt': 'updatedAt',
      '#updatedKey': 'updatedKey',
    };
    const values: Record<string, unknown> = { ':one': 1, ':now': now, ':updatedKey': `${now}#${id}` };
    const sets = ['#version = #version + :one', '#updatedAt = :now', '#updatedKey = :updatedKey'];
    const removes: string[] = [];
    const conditions = ['attribute_exists(#id)'];

    Object.entries(changes).forEach(([field, value], i) => {
      names[`#c${i}`] = field;
      if (value === undefined) {
        removes.push(`#c${i}`);
      } else {
        values[`:c${i}`] = value;
        sets.push(`#c${i} = :c${i}`);
      }
    });
    if (move) {
      Object.assign(names, { '#state': 'state', '#teamState': 'teamState', '#activeState': 'activeState' });
      values[':to'] = move.to;
      values[':teamState'] = `${team}#${move.to}`;
      sets.push('#state = :to', '#teamState = :teamState');
      if (isTerminal(move.to)) removes.push('#activeState');
      else sets.push('#activeState = :to');
      const sources = move.from.map((state, i) => {
        values[`:from${i}`] = state;
        return `:from${i}`;
      });
      conditions.push(`#state IN (${sources.join(', ')})`);
    }
    if (expectedVersion !== undefined) {
      values[':expected'] = expectedVersion;
      conditions.push('#version = :expected');
    }

    try {
      const { Attributes } = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { id },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(Attributes ?? {});
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const current = await this.get(id);
      if (!current) throw new JobNotFound(id);
      throw new TransitionConflict(id, move?.to ?? current.state, current.state);
    }
  }

  private partitionQuery(index: JobIndex, partition: string): QueryCommandInput {
    return {
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': partition },
    };
  }
}

function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Accepts only a key of the index being queried, within the caller's own partition. */
function decodeToken(token: string, index: JobIndex, partition: string): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidPageToken();
  }
  const expected = [JOB_TABLE.partitionKey, index.partitionKey, index.sortKey].sort();
  if (
    typeof key !== 'object' ||
    key === null ||
    Array.isArray(key) ||
    Object.keys(key).sort().join() !== expected.join() ||
    // DynamoDB refuses empty key attributes: an empty string would come back as a 500.
    !Object.values(key).every((v) => typeof v === 'string' && v.length > 0 && v.length <= 512) ||
    !/^[a-z0-9]{1,64}$/.test((key as Record<string, string>)[JOB_TABLE.partitionKey] ?? '') ||
    (key as Record<string, string>)[index.partitionKey] !== partition
  ) {
    throw new InvalidPageToken();
  }
  return key as Record<string, unknown>;
}
