import { type Cluster, Command, type Redis } from 'ioredis';
import { type CacheCell, type CachedRecord, type FeatureCache, MISSING } from './ports';
import { decodeRecord, encodeRecord, type ViewRecord } from './record';

/**
 * Sets each key to its value only if the key is absent, holds the negative marker, or holds
 * an older record (event time, then creation time: the prefix of every value). One script
 * per entity, so the comparison and the write are atomic: never a read-then-write race.
 */
const PUT_IF_NEWER = `
local function newer(new, cur)
  local ct, cc = string.match(cur, '^(%d+)|(%d+)|')
  if not ct then return true end
  local nt, nc = string.match(new, '^(%d+)|(%d+)|')
  nt, nc, ct, cc = tonumber(nt), tonumber(nc), tonumber(ct), tonumber(cc)
  return nt > ct or (nt == ct and nc > cc)
end
local written = 0
for i, key in ipairs(KEYS) do
  local value = ARGV[2 * i - 1]
  local cur = redis.call('GET', key)
  if not cur or newer(value, cur) then
    redis.call('SET', key, value, 'PX', ARGV[2 * i])
    written = written + 1
  end
end
return written
`;

/** The value of a cell known to be absent from the online store. */
const NEGATIVE = '-';

type RedisClient = (Redis | Cluster) & {
  dtPutIfNewer(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
};

/**
 * The feature cache on Redis/Valkey (ElastiCache, or a local redis-server). Keys are
 * `ft:{<entity key>}:<view>:<version>`: the hash tag puts every view of one entity in one
 * cluster slot, so in a cluster each entity is one MGET and one script (on one node a whole
 * request is one MGET); the version in the key means a new view version never reads values
 * of an old one. Commands issued together are sent as one pipeline (ioredis auto-pipelining),
 * one per node in cluster mode.
 */
export class RedisFeatureCache implements FeatureCache {
  private readonly redis: RedisClient;

  constructor(redis: Redis | Cluster) {
    redis.defineCommand('dtPutIfNewer', { lua: PUT_IF_NEWER });
    this.redis = redis as RedisClient;
  }

  static keyOf(cell: CacheCell): string {
    return `${KEY_HEAD}${cell.key}${keyTail(cell.view, cell.version)}`;
  }

  async get(cells: readonly CacheCell[]): Promise<CachedRecord[]> {
    if (cells.length === 0) return [];
    // One MGET for the request on one node; a cluster needs one per slot, so one per entity.
    // Values come as bytes: decoded without a string per value, spliced into the response as they are.
    if (!this.redis.isCluster) {
      const values = (await this.redis.sendCommand(new EncodedMget(cells))) as (Buffer | null)[];
      return values.map((value, i) => cachedRecord(value, cells[i]!.version));
    }
    const keys = cells.map(RedisFeatureCache.keyOf);
    const groups = groupByEntity(cells.map((cell, index) => ({ cell, index })));
    const result = new Array<CachedRecord>(cells.length);
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const values = await this.redis.mgetBuffer(group.map(({ index }) => keys[index]!));
        group.forEach(({ index }, i) => {
          result[index] = cachedRecord(values[i] ?? null, cells[index]!.version);
        });
      }),
    );
    return result;
  }

  async put(entries: readonly { cell: CacheCell; record: ViewRecord; ttlMs: number }[]): Promise<void> {
    const groups = groupByEntity(entries.map((entry) => ({ cell: entry.cell, entry })));
    await Promise.all(
      [...groups.values()].map((group) =>
        this.redis.dtPutIfNewer(
          group.length,
          ...group.map(({ cell }) => RedisFeatureCache.keyOf(cell)),
          ...group.flatMap(({ entry }) => [encodeRecord(entry.record), Math.max(1, Math.round(entry.ttlMs))]),
        ),
      ),
    );
  }

  async putMissing(cells: readonly CacheCell[], ttlMs: number): Promise<void> {
    await Promise.all(
      cells.map((cell) =>
        this.redis.set(RedisFeatureCache.keyOf(cell), NEGATIVE, 'PX', Math.max(1, ttlMs), 'NX'),
      ),
    );
  }
}

const NEGATIVE_BYTE = NEGATIVE.charCodeAt(0);

/** A key (`keyOf`) is this, the entity key, then `keyTail`. */
const KEY_HEAD = 'ft:{';
const keyTail = (view: string, version: string) => `}:${view}:${version}`;

/** `keyTail` and RESP's `\r\n`, the end of every key of one view version in an MGET, by view and version. */
const keySuffixes = new Map<string, Map<string, string>>();
function keySuffix(view: string, version: string): string {
  let byVersion = keySuffixes.get(view);
  if (!byVersion) {
    byVersion = new Map();
    keySuffixes.set(view, byVersion);
  }
  let suffix = byVersion.get(version);
  if (suffix === undefined) {
    suffix = `${keyTail(view, version)}\r\n`;
    // Bounded by the registry's views and the versions a process meets while it runs.
    if (byVersion.size >= 64) byVersion.clear();
    byVersion.set(version, suffix);
  }
  return suffix;
}
const CRLF_BYTES = 2;

/** `$<key bytes>\r\nft:{`, the start of a key of that many bytes in RESP, for the usual lengths. */
const keyHeads = Array.from({ length: 512 }, (_, bytes) => `$${bytes}\r\n${KEY_HEAD}`);
const keyHead = (bytes: number) => keyHeads[bytes] ?? `$${bytes}\r\n${KEY_HEAD}`;

/**
 * `MGET` of the cells' keys (`keyOf`) as RESP bytes: one string joined from shared pieces (the
 * key head by length, the entity key, the view's suffix) and encoded once, so a lookup costs
 * one native call, not some per key (at 100 entities x 5 views, three Buffer writes and two
 * copies per key were a tenth of the read path's CPU), and no command string for ioredis to
 * build and encode again. Replies are bytes.
 */
class EncodedMget extends Command {
  readonly #bytes: Buffer;

  constructor(cells: readonly CacheCell[]) {
    super('mget', [], { replyEncoding: null });
    this.#bytes = mgetBytes(cells, false) ?? mgetBytes(cells, true)!;
  }

  override toWritable(): Buffer {
    return this.#bytes;
  }
}

/**
 * The bytes, or undefined when a key is not ASCII and `measureEach` is false: lengths are then
 * counted in characters, and the byte count of the whole command says whether those were bytes.
 */
function mgetBytes(cells: readonly CacheCell[], measureEach: boolean): Buffer | undefined {
  let command = `*${cells.length + 1}\r\n$4\r\nMGET\r\n`;
  let suffix = '';
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    // Cells come view by view: the previous cell's suffix is most often this one's.
    const previous = cells[i - 1];
    if (previous?.view !== cell.view || previous.version !== cell.version)
      suffix = keySuffix(cell.view, cell.version);
    const keyBytes = measureEach
      ? Buffer.byteLength(cell.key) + Buffer.byteLength(suffix)
      : cell.key.length + suffix.length;
    command += keyHead(KEY_HEAD.length + keyBytes - CRLF_BYTES) + cell.key + suffix;
  }
  const bytes = Buffer.from(command);
  return measureEach || bytes.length === command.length ? bytes : undefined;
}

function cachedRecord(value: Buffer | null, version: string): CachedRecord {
  if (value === null) return undefined;
  return value.length === 1 && value[0] === NEGATIVE_BYTE ? MISSING : decodeRecord(value, version);
}

function groupByEntity<T extends { cell: CacheCell }>(items: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.cell.key);
    if (group) group.push(item);
    else groups.set(item.cell.key, [item]);
  }
  return groups;
}
