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
 * A value's JSON as Feast serves it. Feast stores a NaN as no value (its type map drops
 * `pd.isnull` values: served null, NULL_VALUE) and sends +/-Infinity as the protobuf JSON
 * strings "Infinity" / "-Infinity" (feature_server_utils._float_to_native), PRESENT; anything
 * else is JSON.stringify's text. Records are stored in this text, so a response splices it.
 */
export function featureValueJson(value: FeatureValue | undefined): string {
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? 'null' : value > 0 ? '"Infinity"' : '"-Infinity"';
  return value === undefined ? 'null' : JSON.stringify(value);
}

export function valuesJson(values: readonly FeatureValue[]): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) text += (i > 0 ? ',' : '') + featureValueJson(values[i]);
  return `${text}]`;
}

/**
 * `<event µs>|<created µs>|<version>|<byte length of each value, comma-separated>|<values JSON>`:
 * the cache's bytes. Times lead so the cache's Lua script compares recency without decoding
 * JSON; the lengths say where each value's JSON is, so a read cuts the values apart without
 * scanning them and a response copies each one as it is.
 */
export function encodeRecord(record: ViewRecord): string {
  let lengths = '';
  let json = '[';
  record.values.forEach((value, i) => {
    const text = featureValueJson(value);
    lengths += `${i > 0 ? ',' : ''}${Buffer.byteLength(text)}`;
    json += `${i > 0 ? ',' : ''}${text}`;
  });
  return `${record.eventTimeUs}|${record.createdUs}|${record.version}|${lengths}|${json}]`;
}

const BAR = 124;

/**
 * A cache value (`encodeRecord`'s bytes, or the same as a string), or undefined when it is
 * not one. Values written before the lengths were (`<version>|<values JSON>`) are scanned.
 * `expectedVersion`, when the bytes hold it, is the record's version (no string made per read).
 */
export function decodeRecord(value: string | Buffer, expectedVersion?: string): ViewRecord | undefined {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  let at = 0;
  let eventTimeUs = 0;
  let createdUs = 0;
  // Digits only, checked as they are read.
  for (; at < bytes.length && bytes[at] !== BAR; at++) {
    const digit = bytes[at]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    eventTimeUs = eventTimeUs * 10 + digit;
  }
  const eventEnd = at;
  for (at++; at < bytes.length && bytes[at] !== BAR; at++) {
    const digit = bytes[at]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    createdUs = createdUs * 10 + digit;
  }
  const createdEnd = at;
  const versionEnd = bytes.indexOf(BAR, createdEnd + 1);
  if (eventEnd === 0 || createdEnd >= bytes.length || versionEnd < 0) return undefined;
  const version =
    expectedVersion !== undefined && holds(bytes, createdEnd + 1, versionEnd, expectedVersion)
      ? expectedVersion
      : bytes.toString('latin1', createdEnd + 1, versionEnd);
  const withLengths = bytes[versionEnd + 1] !== 91;
  const lengthsEnd = withLengths ? bytes.indexOf(BAR, versionEnd + 1) : versionEnd;
  if (lengthsEnd < 0) return undefined;
  const bounds = withLengths ? boundsFromLengths(bytes, versionEnd + 1, lengthsEnd) : undefined;
  if (bounds) return new EncodedRecord(eventTimeUs, createdUs, version, bytes, bounds);
  try {
    return recordFromBytes(eventTimeUs, createdUs, version, bytes, lengthsEnd + 1);
  } catch {
    return undefined; // not JSON: a miss, read from the store and written again
  }
}

/** Whether bytes `start` to `end` are the ASCII text `text`. */
function holds(bytes: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Value bounds from the lengths field (`start` to `end`), the JSON following it; undefined
 * when they do not fit it (each value ends at a comma, the last at the closing bracket that
 * ends the bytes, and begins and ends as a scalar does): the JSON is then scanned instead.
 */
function boundsFromLengths(bytes: Buffer, start: number, end: number): number[] | undefined {
  const jsonStart = end + 1;
  const last = bytes.length - 1;
  if (bytes[jsonStart] !== 91 || bytes[last] !== 93) return undefined;
  const bounds = [jsonStart + 1];
  if (start === end) return last === jsonStart + 1 ? bounds : undefined;
  let length = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = bytes[i]!;
    if (code === COMMA || i === end) {
      const valueStart = bounds[bounds.length - 1]!;
      const valueEnd = valueStart + length;
      if (digits === 0 || valueEnd > last || !isScalarToken(bytes, valueStart, valueEnd)) return undefined;
      if (bytes[valueEnd] !== (i === end ? 93 : COMMA)) return undefined;
      bounds.push(valueEnd + 1);
      length = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      length = length * 10 + code - 48;
      digits++;
    } else return undefined;
  }
  return bounds[bounds.length - 1] === bytes.length ? bounds : undefined;
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
 * A record whose values arrive as JSON bytes (the cache's value, DynamoDB's `d`). It keeps the
 * bytes and where each value's text begins, out of sight of equality and spreading, so a
 * response copies each value's bytes as they are; `values` are parsed only if asked for.
 */
class EncodedRecord implements ViewRecord {
  readonly #bytes: Buffer;
  readonly #bounds: readonly number[];
  #values: readonly FeatureValue[] | undefined;

  constructor(
    readonly eventTimeUs: number,
    readonly createdUs: number,
    readonly version: string,
    bytes: Buffer,
    bounds: readonly number[],
  ) {
    this.#bytes = bytes;
    this.#bounds = bounds;
  }

  get values(): readonly FeatureValue[] {
    // The array runs from just before the first value to the end of the bytes.
    this.#values ??= JSON.parse(this.#bytes.toString('utf8', this.#bounds[0]! - 1)) as FeatureValue[];
    return this.#values;
  }

  static bytesOf(record: ViewRecord): Buffer | undefined {
    return #bytes in record ? record.#bytes : undefined;
  }

  static boundsOf(record: ViewRecord): readonly number[] | undefined {
    return #bounds in record ? record.#bounds : undefined;
  }
}

/**
 * The JSON bytes of the values of a record read from the cache or the store (undefined for
 * one built in memory), and where each begins: value `i` is `bytes[bounds[i], bounds[i + 1] - 1)`
 * (its text ends before the comma or bracket that follows it).
 */
export const valueBytesOf = EncodedRecord.bytesOf;
export const valueBoundsOf = EncodedRecord.boundsOf;

/** The record of a stored values array (JSON text); text not in our compact encoding is parsed at once. */
export function recordFromJson(
  eventTimeUs: number,
  createdUs: number,
  version: string,
  json: string,
): ViewRecord {
  return recordFromBytes(eventTimeUs, createdUs, version, Buffer.from(json), 0);
}

function recordFromBytes(
  eventTimeUs: number,
  createdUs: number,
  version: string,
  bytes: Buffer,
  start: number,
): ViewRecord {
  const bounds = valueBounds(bytes, start);
  if (bounds) return new EncodedRecord(eventTimeUs, createdUs, version, bytes, bounds);
  return {
    eventTimeUs,
    createdUs,
    version,
    values: JSON.parse(bytes.toString('utf8', start)) as FeatureValue[],
  };
}

/** Bytes a number, true, false or null is made of (outside strings). */
const SCALAR_BYTES = new Uint8Array(128);
for (const char of '0123456789.eE+-nultrfas') SCALAR_BYTES[char.charCodeAt(0)] = 1;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;

/**
 * Where each element of a flat JSON array of scalars begins, as JSON.stringify writes it (no
 * whitespace), the array running from `start` to the end of `bytes`, followed by the end of
 * the last; undefined for anything else (nested values, whitespace, not an array), which the
 * caller then parses. The bytes
 * are this code's own encoding; the check keeps their structure (each element begins and ends
 * as a scalar does: a string in quotes, a number, true, false or null), so a value is never
 * spliced half or merged.
 */
export function valueBounds(bytes: Buffer, start: number): number[] | undefined {
  const end = bytes.length - 1;
  if (end - start < 1 || bytes[start] !== 91 || bytes[end] !== 93) return undefined;
  const bounds = [start + 1];
  if (end === start + 1) return bounds;
  for (let i = start + 1; i < end; i++) {
    const code = bytes[i]!;
    if (code === QUOTE) {
      // Skip to the closing quote, past escapes.
      for (i++; i < end; i++) {
        const within = bytes[i]!;
        if (within === BACKSLASH) i++;
        else if (within === QUOTE) break;
      }
      if (i >= end) return undefined;
    } else if (code === COMMA) {
      if (!isScalarToken(bytes, bounds[bounds.length - 1]!, i)) return undefined;
      bounds.push(i + 1);
    } else if (code >= 128 || SCALAR_BYTES[code] === 0) return undefined;
  }
  if (!isScalarToken(bytes, bounds[bounds.length - 1]!, end)) return undefined;
  bounds.push(end + 1);
  return bounds;
}

function isScalarToken(bytes: Buffer, start: number, end: number): boolean {
  if (end <= start) return false;
  const first = bytes[start]!;
  const last = bytes[end - 1]!;
  if (first === QUOTE) return end - start >= 2 && last === QUOTE;
  if (first === 45 || (first >= 48 && first <= 57)) return last >= 48 && last <= 57;
  return (
    isWord(bytes, start, end, 'null') ||
    isWord(bytes, start, end, 'true') ||
    isWord(bytes, start, end, 'false')
  );
}

function isWord(bytes: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (bytes[start + i] !== word.charCodeAt(i)) return false;
  return true;
}
