/**
 * What the index repair at a persisted dynalite start costs: N job-shaped items (about
 * 1.5 KB) in the job table (its three GSIs), timed clean (nothing to change) and after
 * deleting every index entry (everything to rewrite); and a whole start after a clean close
 * (which skips the pass) against one after an unclean end (which runs it).
 *   npx tsx bench/dynalite-index-repair.ts 10000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureJobTable } from '../jobs/store/create-table';
import { startLocalDynamoDb } from '../local/dynalite';
// @ts-expect-error: an untyped ES module of the local runtime.
import { repairSecondaryIndexes } from '../local/dynalite-index-repair.mjs';

const count = Number(process.argv[2] ?? 10_000);
const path = mkdtempSync(join(tmpdir(), 'drivetrain-repair-bench-'));
const dynamo = await startLocalDynamoDb({ path });
await ensureJobTable(dynamo.client, 'jobs');
const spec = JSON.stringify({
  image: 'registry.local/train:1',
  command: ['python', 'train.py'],
  env: { A: 'x'.repeat(1200) },
});
for (let start = 0; start < count; start += 25) {
  const items = Array.from({ length: Math.min(25, count - start) }, (_, offset) => {
    const i = start + offset;
    const key = String(i).padStart(8, '0');
    return {
      PutRequest: {
        Item: {
          id: { S: `job-${key}` },
          team: { S: `team-${i % 7}` },
          teamState: { S: `team-${i % 7}#PENDING` },
          activeState: { S: 'PENDING' },
          submittedKey: { S: key },
          updatedKey: { S: key },
          spec: { S: spec },
        },
      },
    };
  });
  await dynamo.client.send(new BatchWriteItemCommand({ RequestItems: { jobs: items } }));
}
await dynamo.close();

const timedStart = async () => {
  const started = performance.now();
  const restarted = await startLocalDynamoDb({ path });
  const ms = Math.round(performance.now() - started);
  await restarted.close();
  return ms;
};
const startAfterCleanCloseMs = await timedStart();
rmSync(`${path}.closed-cleanly`);
const startAfterUncleanEndMs = await timedStart();

const timed = async () => {
  const started = performance.now();
  const repairs = await repairSecondaryIndexes(path);
  return { ms: Math.round(performance.now() - started), repairs };
};
const clean = await timed();
const { Level } = createRequire(createRequire(import.meta.url).resolve('dynalite'))('level');
const store = new Level(path, { valueEncoding: 'json' });
for await (const key of store.keys({ gte: 'index-', lt: 'index-\xFF' })) await store.del(key);
await store.close();
const rebuilt = await timed();
console.log(
  JSON.stringify({
    items: count,
    cleanMs: clean.ms,
    cleanRepairs: clean.repairs,
    rebuildMs: rebuilt.ms,
    rebuilt: rebuilt.repairs,
    startAfterCleanCloseMs,
    startAfterUncleanEndMs,
  }),
);
rmSync(path, { recursive: true, force: true });
rmSync(`${path}.closed-cleanly`, { force: true });
