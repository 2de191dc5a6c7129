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
  return {
    eventTimeUs: Number(text.slice(0, a)),
    createdUs: Number(text.slice(a + 1, b)),
    version: text.slice(b + 1, c),
    values: JSON.parse(text.slice(c + 1)) as FeatureValue[],
  };
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
