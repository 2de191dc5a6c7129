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

/**
 * A record whose values arrive as JSON text (the cache's bytes, DynamoDB's `d`). It keeps the
 * text of each value, out of sight of equality and spreading, so a response splices it as it
 * is; `values` are parsed only if something asks for them.
 */
class StoredRecord implements ViewRecord {
  readonly #tokens: readonly string[];
  #values: readonly FeatureValue[] | undefined;

  constructor(
    readonly eventTimeUs: number,
    readonly createdUs: number,
    readonly version: string,
    tokens: readonly string[],
  ) {
    this.#tokens = tokens;
  }

  get values(): readonly FeatureValue[] {
    this.#values ??= JSON.parse(`[${this.#tokens.join(',')}]`) as FeatureValue[];
    return this.#values;
  }

  static tokensOf(record: ViewRecord): readonly string[] | undefined {
    return #tokens in record ? (record as StoredRecord).#tokens : undefined;
  }
}

/** The record of a stored values array (JSON text); text not in our compact encoding is parsed at once. */
export function recordFromJson(
  eventTimeUs: number,
  createdUs: number,
  version: string,
  json: string,
): ViewRecord {
  const tokens = valueTokens(json);
  if (tokens) return new StoredRecord(eventTimeUs, createdUs, version, tokens);
  return { eventTimeUs, createdUs, version, values: JSON.parse(json) as FeatureValue[] };
}

/** The JSON text of each value of a record, where it has it (records read from the cache or the store). */
export const tokensOf = StoredRecord.tokensOf;

/**
 * The element texts of a flat JSON array of scalars as JSON.stringify writes it (no
 * whitespace), or undefined for anything else (nested values, whitespace, not an array), which
 * the caller then parses. The bytes are JSON.stringify's, written by this code alone; the
 * check keeps their structure (each element begins and ends as a scalar does: a string in
 * quotes, a number, true, false or null), so a value is never spliced half or merged.
 */
export function valueTokens(json: string): string[] | undefined {
  const end = json.length - 1;
  if (end < 1 || json.charCodeAt(0) !== 91 || json.charCodeAt(end) !== 93) return undefined;
  if (end === 1) return [];
  const inner = json.slice(1, end);
  // Numbers, booleans and nulls only (the common case): split at the commas.
  const tokens = inner.includes('"') ? stringAwareSplit(inner) : inner.split(',');
  if (!tokens) return undefined;
  for (const token of tokens) if (!isScalarToken(token)) return undefined;
  return tokens;
}

/** Splits at the commas outside strings; undefined at a nested value or an unclosed string. */
function stringAwareSplit(inner: string): string[] | undefined {
  const tokens: string[] = [];
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const code = inner.charCodeAt(i);
    if (code === 34) {
      // Skip to the closing quote, past escapes.
      for (i++; i < inner.length; i++) {
        const within = inner.charCodeAt(i);
        if (within === 92) i++;
        else if (within === 34) break;
      }
      if (i >= inner.length) return undefined;
    } else if (code === 44) {
      tokens.push(inner.slice(start, i));
      start = i + 1;
    } else if (code === 91 || code === 123) return undefined;
  }
  tokens.push(inner.slice(start));
  return tokens;
}

function isScalarToken(token: string): boolean {
  const first = token.charCodeAt(0);
  const last = token.charCodeAt(token.length - 1);
  if (first === 34) return token.length >= 2 && last === 34;
  if (first === 45 || (first >= 48 && first <= 57)) return last >= 48 && last <= 57;
  return token === 'null' || token === 'true' || token === 'false';
}
