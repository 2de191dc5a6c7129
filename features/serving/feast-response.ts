import type { FeatureValue, ViewRecord } from '../online/record';
import { featureValueJson, formatEventTime, valueBoundsOf, valueBytesOf } from '../online/record';
import type { OnlineFeaturesQuery } from './feast-request';

/** Feast's field statuses (protos/feast/serving/ServingService.proto). */
export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** One output column: a join key or a feature, with a value per entity row. */
export interface FeatureVector {
  values: FeatureValue[];
  statuses: FieldStatus[];
  event_timestamps: string[];
}

/** Feast's GetOnlineFeaturesResponse as its feature server writes it in JSON. */
export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureVector[];
}

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * Responses are written into buffers kept for reuse: a response lent out (`onlineFeaturesBytes`)
 * holds its buffer until the socket has taken the bytes, so a 263 KB answer costs no allocation
 * (allocating one each time made the external memory grow by that much per request, and V8
 * answers that growth with full collections: the 100x50 tail). Kept: a few, none past 4 MB.
 */
const INITIAL_BYTES = 256 * 1024;
const KEPT_MAX_BYTES = 4 * 1024 * 1024;
const KEPT_BUFFERS = 16;
const freeBuffers: Buffer<ArrayBuffer>[] = [];

function giveBack(buf: Buffer<ArrayBuffer>): void {
  if (buf.length <= KEPT_MAX_BYTES && freeBuffers.length < KEPT_BUFFERS) freeBuffers.push(buf);
}

/** Response bytes in a reused buffer: call `release` once they are sent (or dropped), and not use them after. */
export interface LentBytes {
  readonly bytes: Buffer<ArrayBuffer>;
  readonly release: () => void;
}

class ResponseBytes {
  buf: Buffer<ArrayBuffer> = freeBuffers.pop() ?? Buffer.allocUnsafeSlow(INITIAL_BYTES);
  /** `buf` for the word moves of short stored values (`onlineFeaturesBytes`). */
  words = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  pos = 0;

  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    giveBack(this.buf);
    this.buf = grown;
    this.words = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  /** Bytes of `source` from `start` to `end`; short runs (most values) byte by byte. */
  copy(source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.reserve(length);
    const { buf } = this;
    if (length < 32) {
      let pos = this.pos;
      for (let i = start; i < end; i++) buf[pos++] = source[i]!;
      this.pos = pos;
    } else {
      buf.set(source.subarray(start, end), this.pos);
      this.pos += length;
    }
  }

  bytes(source: Uint8Array): void {
    this.copy(source, 0, source.length);
  }

  text(text: string): void {
    this.reserve(text.length * 3);
    this.pos += this.buf.write(text, this.pos);
  }

  byte(code: number): void {
    this.reserve(1);
    this.buf[this.pos++] = code;
  }

  /** Repeats the bytes written from `start` to `end` (a view's timestamps, for its next feature). */
  again(start: number, end: number): void {
    this.reserve(end - start);
    this.buf.copyWithin(this.pos, start, end);
    this.pos += end - start;
  }

  lend(): LentBytes {
    const { buf } = this;
    let released = false;
    return {
      bytes: buf.subarray(0, this.pos),
      release: () => {
        if (!released) giveBack(buf);
        released = true;
      },
    };
  }
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const PRESENT = utf8('"PRESENT"');
const NULL_VALUE = utf8('"NULL_VALUE"');
const NOT_FOUND = utf8('"NOT_FOUND"');
const OUTSIDE_MAX_AGE = utf8('"OUTSIDE_MAX_AGE"');
const NULL = utf8('null');
const QUOTED_EPOCH = utf8(`"${EPOCH}"`);
const VALUES = utf8('{"values":[');
const STATUSES = utf8('],"statuses":');
const TIMESTAMPS = utf8(',"event_timestamps":');
const COMMA = 44;
const MINUS = 45;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const OPEN = 91;
const CLOSE = 93;
const CLOSE_OBJECT = 125;

/** `[<item>,<item>,...]` of `rows` items, by item and row count: most columns are all PRESENT. */
const repeatedLists = new Map<Buffer, Map<number, Buffer>>();
function repeatedList(item: Buffer, rows: number): Buffer {
  let byRows = repeatedLists.get(item);
  if (!byRows) {
    byRows = new Map();
    repeatedLists.set(item, byRows);
  }
  let list = byRows.get(rows);
  if (!list) {
    list = Buffer.allocUnsafe(2 + rows * (item.length + 1) - (rows > 0 ? 1 : 0));
    let pos = 0;
    list[pos++] = OPEN;
    for (let row = 0; row < rows; row++) {
      if (row > 0) list[pos++] = COMMA;
      pos += item.copy(list, pos);
    }
    list[pos] = CLOSE;
    // Bounded: one per row count, at most MAX_ENTITY_ROWS, and item (PRESENT, epoch).
    byRows.set(rows, list);
  }
  return list;
}

/** `"<RFC 3339>"` of each event time seen: rows of one materialization share a few. */
const stamps = new Map<number, Buffer>();
function quotedStamp(micros: number): Buffer {
  let stamp = stamps.get(micros);
  if (!stamp) {
    stamp = utf8(`"${formatEventTime(micros)}"`);
    if (stamps.size >= 65_536) stamps.clear();
    stamps.set(micros, stamp);
  }
  return stamp;
}

/** `{"metadata":{"feature_names":[...]},"results":[` per request shape and join key columns. */
const heads = new WeakMap<object, Map<string, Buffer>>();
function responseHead(query: OnlineFeaturesQuery): Buffer {
  let byKeys = heads.get(query.shape);
  if (!byKeys) {
    byKeys = new Map();
    heads.set(query.shape, byKeys);
  }
  const joinKeys = query.joinKeyColumns.map((c) => c.name);
  const id = joinKeys.join('\u0000');
  let head = byKeys.get(id);
  if (!head) {
    const names = [...joinKeys, ...query.selections.flatMap((s) => s.outputNames)];
    head = utf8(`{"metadata":{"feature_names":${JSON.stringify(names)}},"results":[`);
    // Bounded by the join key columns a request may name (those of its views, in request order).
    byKeys.set(id, head);
  }
  return head;
}

/**
 * The response, column by column as Feast builds it: join keys first (PRESENT, epoch
 * timestamps), then each requested feature. TTL is enforced here, on every read: a value
 * older than its view's TTL is OUTSIDE_MAX_AGE and withheld (null), never served as current.
 *
 * It is written straight into bytes: each value's stored JSON bytes are copied as they are
 * (records from the cache or the store keep them, with where each value begins), a value
 * built in memory is written as Feast would (`featureValueJson`), one view's timestamps are
 * written once and repeated for its other features, and the feature names, statuses and
 * all-PRESENT lists are prepared once per shape; no object or string per value, no
 * JSON.stringify of the response. Byte for byte the JSON.stringify of the same response
 * (test/features/feast-response.test.ts).
 */
export function onlineFeaturesJson(
  query: OnlineFeaturesQuery,
  records: readonly (readonly (ViewRecord | undefined)[])[],
  nowUs: number,
): Buffer<ArrayBuffer> {
  const lent = onlineFeaturesBytes(query, records, nowUs);
  const owned = Buffer.from(lent.bytes);
  lent.release();
  return owned;
}

/** `onlineFeaturesJson`'s bytes in a reused buffer, for a server that can tell when the socket has them. */
export function onlineFeaturesBytes(
  query: OnlineFeaturesQuery,
  records: readonly (readonly (ViewRecord | undefined)[])[],
  nowUs: number,
): LentBytes {
  const { rows } = query;
  const out = new ResponseBytes();
  out.bytes(responseHead(query));
  const allPresent = repeatedList(PRESENT, rows);
  const epochs = repeatedList(QUOTED_EPOCH, rows);
  let firstColumn = true;
  for (const column of query.joinKeyColumns) {
    if (!firstColumn) out.byte(COMMA);
    firstColumn = false;
    out.text(`{"values":${JSON.stringify(column.values)},"statuses":`);
    out.bytes(allPresent);
    out.bytes(TIMESTAMPS);
    out.bytes(epochs);
    out.byte(CLOSE_OBJECT);
  }
  // Per row of the current view: what to serve and how (reused across views).
  const served = new Array<ViewRecord | undefined>(rows);
  const storedBytes = new Array<Buffer | undefined>(rows);
  const storedBounds = new Array<readonly number[] | undefined>(rows);
  // The same bytes as words: a view of the whole memory they are in (the socket read a reply
  // came in, shared by most rows) and where they start in it.
  const storedWords = new Array<DataView | undefined>(rows);
  const storedOffsets = new Int32Array(rows);
  let lastMemory: ArrayBufferLike | undefined;
  let lastWords: DataView | undefined;
  const absent = new Array<Buffer | undefined>(rows);
  const nulls = new Uint8Array(rows);
  for (let s = 0; s < query.selections.length; s++) {
    const selection = query.selections[s]!;
    const viewRecords = records[s]!;
    const { ttlUs } = selection.view;
    let allServed = true;
    // The most bytes one row's value can take in a column (stored bytes hold all of a record's
    // values), or a null's: a column reserves for all its rows at once.
    let rowBytes = NULL.length;
    for (let row = 0; row < rows; row++) {
      const record = viewRecords[row];
      served[row] = undefined;
      storedBytes[row] = undefined;
      absent[row] = undefined;
      if (!record) absent[row] = NOT_FOUND;
      else if (ttlUs !== 0 && nowUs - record.eventTimeUs > ttlUs) absent[row] = OUTSIDE_MAX_AGE;
      else {
        served[row] = record;
        const bytes = valueBytesOf(record);
        storedBytes[row] = bytes;
        storedBounds[row] = valueBoundsOf(record);
        if (bytes) {
          if (bytes.buffer !== lastMemory) {
            lastMemory = bytes.buffer;
            lastWords = new DataView(lastMemory);
          }
          storedWords[row] = lastWords;
          storedOffsets[row] = bytes.byteOffset;
          if (bytes.length > rowBytes) rowBytes = bytes.length;
        }
        continue;
      }
      allServed = false;
    }
    rowBytes += 1; // its comma
    let stampsStart = -1;
    let stampsEnd = -1;
    const { featureIndexes } = selection;
    for (let f = 0; f < featureIndexes.length; f++) {
      const index = featureIndexes[f]!;
      if (!firstColumn) out.byte(COMMA);
      firstColumn = false;
      out.bytes(VALUES);
      let anyNull = false;
      // Values written in place: one capacity check per column, not per value.
      out.reserve(rows * rowBytes);
      let { buf, pos, words } = out;
      for (let row = 0; row < rows; row++) {
        if (row > 0) buf[pos++] = COMMA;
        nulls[row] = 0;
        const record = served[row];
        if (!record) {
          for (let i = 0; i < NULL.length; i++) buf[pos++] = NULL[i]!;
          continue;
        }
        const bytes = storedBytes[row];
        let isNull: boolean;
        if (bytes) {
          const bounds = storedBounds[row]!;
          if (index + 1 < bounds.length) {
            const start = bounds[index]!;
            const end = bounds[index + 1]! - 1;
            if (end - start < 64) {
              // Eight or four bytes a move, then the rest: a JavaScript loop's cost is per move,
              // and a native copy's call costs more than these few moves. Eight only for a JSON
              // number: its bytes are ASCII digits and signs, never a NaN's (which a float move
              // may not keep bit for bit), whatever a string or future value type holds.
              const memory = storedWords[row]!;
              const offset = storedOffsets[row]!;
              let i = start;
              const first = bytes[start]!;
              if (first === MINUS || (first >= DIGIT_0 && first <= DIGIT_9))
                for (; i + 8 <= end; i += 8, pos += 8) words.setFloat64(pos, memory.getFloat64(offset + i));
              for (; i + 4 <= end; i += 4, pos += 4) words.setInt32(pos, memory.getInt32(offset + i));
              for (; i < end; i++) buf[pos++] = bytes[i]!;
            } else {
              buf.set(bytes.subarray(start, end), pos);
              pos += end - start;
            }
            isNull = end - start === 4 && bytes[start] === 110;
          } else {
            for (let i = 0; i < NULL.length; i++) buf[pos++] = NULL[i]!;
            isNull = true;
          }
        } else {
          // A record built in memory: its text may be long, so it reserves for itself, then the rest.
          const token = featureValueJson(record.values[index]);
          out.pos = pos;
          out.text(token);
          out.reserve((rows - row) * rowBytes);
          ({ buf, pos, words } = out);
          isNull = token === 'null';
        }
        if (isNull) {
          nulls[row] = 1;
          anyNull = true;
        }
      }
      out.pos = pos;
      out.bytes(STATUSES);
      if (allServed && !anyNull) out.bytes(allPresent);
      else {
        out.byte(OPEN);
        for (let row = 0; row < rows; row++) {
          if (row > 0) out.byte(COMMA);
          out.bytes(absent[row] ?? (nulls[row] ? NULL_VALUE : PRESENT));
        }
        out.byte(CLOSE);
      }
      out.bytes(TIMESTAMPS);
      if (stampsStart >= 0) out.again(stampsStart, stampsEnd);
      else {
        stampsStart = out.pos;
        out.byte(OPEN);
        for (let row = 0; row < rows; row++) {
          if (row > 0) out.byte(COMMA);
          const record = viewRecords[row];
          out.bytes(record ? quotedStamp(record.eventTimeUs) : QUOTED_EPOCH);
        }
        out.byte(CLOSE);
        stampsEnd = out.pos;
      }
      out.byte(CLOSE_OBJECT);
    }
  }
  out.byte(CLOSE);
  out.byte(CLOSE_OBJECT);
  return out.lend();
}
