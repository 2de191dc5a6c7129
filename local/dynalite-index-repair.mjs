// Rebuilds dynalite's secondary indexes from the items, before the server opens the store.
// dynalite writes an item and its index entries as separate LevelDB writes (db/index.js
// `updateIndexes`: the old entries' deletes, then the new entries' puts), so a kill -9 between
// them leaves an index that misses the item or still lists it under its old key. DynamoDB's
// own indexes are eventually consistent, never wrong for good: this makes ours exact again.
//
// The store layout is dynalite's (4.x): one LevelDB with JSON values and prefixed keys,
// `table~<name>` (the table description), `item-<name>~<key>` and
// `index-<global|local>~<name>~<index>~<key>`. Entries are derived with dynalite's own
// `getIndexActions`, so they are exactly what dynalite itself would have written.
import { createRequire } from 'node:module';

const fromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
const { Level } = fromDynalite('level');
const dynaliteDb = fromDynalite('./db/index.js');

const WRITE_BATCH = 1000;

/**
 * Makes every secondary index of every table in the LevelDB store at `path` hold exactly the
 * entries its items imply: adds the missing, rewrites the outdated, deletes the stale. Returns
 * what it changed per index, e.g. `{ "jobs/byActiveState": { put: 1, deleted: 0 } }`.
 */
export async function repairSecondaryIndexes(path) {
  const db = new Level(path, { valueEncoding: 'json' });
  await db.open();
  try {
    const repairs = {};
    for await (const table of db.values(prefixRange('table~')))
      Object.assign(repairs, await repairTable(db, table));
    return repairs;
  } finally {
    await db.close();
  }
}

/** One pass over the table's items for all of its indexes. */
async function repairTable(db, table) {
  const indexes = ['Global', 'Local'].flatMap((type) =>
    (table[`${type}SecondaryIndexes`] ?? []).map((index) => ({
      index,
      prefix: `index-${type.toLowerCase()}~${table.TableName}~${index.IndexName}~`,
      stored: new Map(),
      put: 0,
    })),
  );
  if (!indexes.length) return {};
  for (const index of indexes) {
    // As stored (the JSON encoding's text), so comparing entries needs no parse.
    const entries = db.iterator({ ...prefixRange(index.prefix), valueEncoding: 'utf8' });
    for await (const [key, text] of entries) index.stored.set(key, text);
  }
  const writes = [];
  for await (const item of db.values(prefixRange(`item-${table.TableName}~`))) {
    for (const index of indexes) {
      for (const entry of dynaliteDb.getIndexActions([index.index], null, item, table).puts) {
        const key = index.prefix + entry.key;
        if (index.stored.get(key) !== JSON.stringify(entry.item)) {
          writes.push({ type: 'put', key, value: entry.item });
          index.put++;
        }
        index.stored.delete(key);
      }
    }
    if (writes.length >= WRITE_BATCH) await db.batch(writes.splice(0));
  }
  const repairs = {};
  for (const { index, stored, put } of indexes) {
    // What is left lists no item (or an item under a key it no longer has).
    for (const key of stored.keys()) writes.push({ type: 'del', key });
    if (put || stored.size) repairs[`${table.TableName}/${index.IndexName}`] = { put, deleted: stored.size };
  }
  if (writes.length) await db.batch(writes);
  return repairs;
}

function prefixRange(prefix) {
  return { gte: prefix, lt: `${prefix}\xFF` };
}
