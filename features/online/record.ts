/** A feature value as stored and served: Feast's JSON scalars, null for a missing value. */
export type FeatureValue = number | string | boolean | null;

/**
 * One view's values for one entity at one event time: the unit of every online write and
 * of every cache entry. `values` follow the order of the view's features in the registry.
 */
export interface ViewRecord {
  /** Event time in microseconds since the epoch: the ordering key, newest wins. */
  readonly eventTimeUs: number;
  /** When it was computed (materialization or push), microseconds: breaks event-time ties. */
  readonly createdUs: number;
  /** The view version (definition + transform hash) the values were computed with. */
  readonly version: string;
  readonly values: readonly FeatureValue[];
}

/** Total order of records: event time, then creation time. Positive when `a` is newer. */
export function compareRecords(a: ViewRecord, b: ViewRecord): number {
  return a.eventTimeUs - b.eventTimeUs || a.createdUs - b.createdUs;
}

/**
 * `<event µs>|<created µs>|<version>|<values JSON>`: the cache's bytes. Times lead so the
 * cache's Lua script compares recency without decoding JSON.
 */
export function encodeRecord(record: ViewRecord): string {
  return `${record.eventTimeUs}|${record.createdUs}|${record.version}|${JSON.stringify(record.values)}`;
}

export function decodeRecord(text: string): ViewRecord | undefined {
  const a = text.indexOf('|');
  const b = text.indexOf('|', a + 1);
  const c = text.indexOf('|', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  return recordFromJson(
    Number(text.slice(0, a)),
    Number(text.slice(a + 1, b)),
    text.slice(b + 1, c),
    text.slice(c + 1),
  );
}

/**
 * A record whose values arrive as JSON text (the cache's bytes, DynamoDB's `d`). It keeps the
 * text of each value, out of sight of equality and spreading, so a response splices it as it
 * is rather than formatting every number again.
 */
class StoredRecord implements ViewRecord {
  readonly #tokens: readonly string[];

  constructor(
    readonly eventTimeUs: number,
    readonly createdUs: number,
    readonly version: string,
    readonly values: readonly FeatureValue[],
    tokens: readonly string[],
  ) {
    this.#tokens = tokens;
  }

  static tokensOf(record: ViewRecord): readonly string[] | undefined {
    return #tokens in record ? (record as StoredRecord).#tokens : undefined;
  }
}

/** The record of a stored values array (JSON text); bad JSON throws, as a parse would. */
export function recordFromJson(
  eventTimeUs: number,
  createdUs: number,
  version: string,
  json: string,
): ViewRecord {
  const values = JSON.parse(json) as FeatureValue[];
  const tokens = valueTokens(json);
  if (tokens && tokens.length === values.length)
    return new StoredRecord(eventTimeUs, createdUs, version, values, tokens);
  return { eventTimeUs, createdUs, version, values };
}

/** The JSON text of each value of a record, where it has it (records read from the cache or the store). */
export const tokensOf = StoredRecord.tokensOf;

/**
 * The element texts of a flat JSON array of scalars as JSON.stringify writes it (no
 * whitespace), or undefined for anything else (nested values, whitespace, not an array), which
 * the caller then parses. Each element must look like a scalar: a string in quotes, or a
 * number, true, false, null, so a value is never spliced half.
 */
export function valueTokens(json: string): string[] | undefined {
  const end = json.length - 1;
  if (end < 1 || json.charCodeAt(0) !== 91 || json.charCodeAt(end) !== 93) return undefined;
  const tokens: string[] = [];
  if (end === 1) return tokens;
  let start = 1;
  for (let i = 1; i <= end; i++) {
    const code = json.charCodeAt(i);
    if (code === 34) {
      // A string: skip to its closing quote, past escapes.
      for (i++; i < end; i++) {
        const inner = json.charCodeAt(i);
        if (inner === 92) i++;
        else if (inner === 34) break;
      }
      if (i >= end) return undefined;
    } else if (code === 44 || i === end) {
      if (!isScalarToken(json, start, i)) return undefined;
      tokens.push(json.slice(start, i));
      start = i + 1;
    } else if (code === 91 || code === 123 || code <= 32) return undefined;
  }
  return tokens;
}

function isScalarToken(json: string, start: number, end: number): boolean {
  if (end <= start) return false;
  const first = json.charCodeAt(start);
  if (first === 34) return end - start >= 2 && json.charCodeAt(end - 1) === 34;
  if (first === 45 || (first >= 48 && first <= 57)) {
    for (let i = start + 1; i < end; i++) {
      const code = json.charCodeAt(i);
      // digits . e E + -
      if (
        !(
          (code >= 48 && code <= 57) ||
          code === 46 ||
          code === 101 ||
          code === 69 ||
          code === 43 ||
          code === 45
        )
      )
        return false;
    }
    return true;
  }
  const word = json.slice(start, end);
  return word === 'null' || word === 'true' || word === 'false';
}

/** Microseconds since the epoch of an ISO time, a Date or epoch milliseconds; undefined if not a time. */
export function toMicros(time: string | number | Date): number | undefined {
  const ms = time instanceof Date ? time.getTime() : typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return undefined;
  let micros = Math.round(ms * 1000);
  // Date.parse drops digits past milliseconds; keep the microseconds an ISO string carries.
  if (typeof time === 'string') {
    const fraction = /\.(\d{4,9})(?=Z|[+-]\d|$)/.exec(time)?.[1];
    if (fraction) micros = Math.floor(ms / 1000) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6));
  }
  return micros;
}

/**
 * RFC 3339 in UTC with the precision Feast's feature server uses: no fraction for whole
 * seconds, else milliseconds or microseconds as needed (feast/feature_server_utils.py).
 */
export function formatEventTime(micros: number): string {
  if (micros === 0) return '1970-01-01T00:00:00Z';
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (fraction === 0) return `${base}Z`;
  if (fraction % 1000 === 0) return `${base}.${String(fraction / 1000).padStart(3, '0')}Z`;
  return `${base}.${String(fraction).padStart(6, '0')}Z`;
}
