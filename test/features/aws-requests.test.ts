import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3PushLog } from '../../features/offline/s3-push-log';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { entityKey } from '../../features/online/entity-key';
import { WatermarkStore } from '../../features/online/online-loader';
import { ensureOnlineTable } from '../../features/online/online-table';
import { modelViolations } from '../backends/service-model';
import { catalog, type LocalServices, recordOf, startServices } from './fixtures';

let services: LocalServices;
beforeAll(async () => {
  services = await startServices();
});
afterAll(() => services.close());

/** Every command sent through `client`, by operation name, while still reaching dynalite. */
function recorded(client: DynamoDBClient): { operation: string; input: unknown }[] {
  const calls: { operation: string; input: unknown }[] = [];
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  (client as { send: unknown }).send = (command: { input: unknown; constructor: { name: string } }) => {
    calls.push({ operation: command.constructor.name.replace(/Command$/, ''), input: command.input });
    return send(command);
  };
  return calls;
}

describe("the requests the feature store sends follow the services' published models (botocore)", () => {
  test('DynamoDB: BatchGetItem, conditional UpdateItem and the watermark GetItem/UpdateItem', async () => {
    const table = 'features-model-check';
    await ensureOnlineTable(services.db.client, table);
    const calls = recorded(services.db.client);
    const store = new DynamoDbOnlineStore(services.db.client, table);
    const drive = catalog.entities.get('drive')!;
    const keys = Array.from({ length: 120 }, (_, i) => entityKey(drive, [`m${i}`]));
    await store.write(
      keys.slice(0, 3).map((key) => ({ key, view: 'drive_imu', record: recordOf('drive_imu', 1_000) })),
    );
    await store.read(keys, ['drive_imu', 'drive_motion']);
    const watermarks = new WatermarkStore(services.db.client, table);
    await watermarks.advance('drive_imu', { version: 'v1', sequence: 1, loadedAtMs: 1 });
    await watermarks.get('drive_imu');

    expect(new Set(calls.map((c) => c.operation))).toEqual(
      new Set(['UpdateItem', 'BatchGetItem', 'GetItem']),
    );
    for (const call of calls)
      expect(modelViolations('dynamodb', call.operation, call.input), call.operation).toEqual([]);
    // BatchGetItem: at most 100 keys per call (its documented limit).
    const batchSizes = calls
      .filter((c) => c.operation === 'BatchGetItem')
      .map(
        (c) =>
          Object.values((c.input as { RequestItems: Record<string, { Keys: unknown[] }> }).RequestItems)[0]!
            .Keys.length,
      );
    expect(batchSizes.sort((a, b) => a - b)).toEqual([20, 100]);
  });

  test('S3: the PutObject of an offline push', async () => {
    const inputs: unknown[] = [];
    const s3 = {
      send: async (command: { input: unknown }) => void inputs.push(command.input),
    } as unknown as S3Client;

    await new S3PushLog(s3, 'drivetrain-dev-features-111111111111', () => 1_700_000_000_000).append(
      'drive_imu',
      'v1',
      [{ drive_id: 'd' }],
    );

    expect(inputs).toHaveLength(1);
    expect(modelViolations('s3', 'PutObject', inputs[0])).toEqual([]);
  });
});
