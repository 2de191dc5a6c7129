import type { ViewRecord } from './record';

/** One view's record of one entity: what the online store and the cache hold per key and view. */
export interface RecordWrite {
  readonly key: string;
  readonly view: string;
  readonly record: ViewRecord;
}

/** The online store: one item per entity key holding the latest record of each view. */
export interface OnlineStore {
  /**
   * The records of `views` for each key, in one round trip per 100 keys, all chunks at once.
   * A key without an item, or without a view's record, is simply absent from the result.
   */
  read(keys: readonly string[], views: readonly string[]): Promise<Map<string, Map<string, ViewRecord>>>;
  /**
   * Writes each record unless the stored record of that view is as new or newer (event time,
   * then creation time), or was computed by another view version. Resolves to whether each won.
   */
  write(writes: readonly RecordWrite[]): Promise<boolean[]>;
}

/** A cell of the cache: one view of one entity key. */
export interface CacheCell {
  readonly key: string;
  readonly view: string;
  readonly version: string;
}

/** Known to be absent from the online store: cached so a missing entity does not cost a read. */
export const MISSING = Symbol('missing');
export type CachedRecord = ViewRecord | typeof MISSING | undefined;

/**
 * A read-through cache in front of the online store. Every method may reject (cache down)
 * or be slow: callers bound them with a timeout and fall back to the store.
 */
export interface FeatureCache {
  /** For each cell: its record, MISSING, or undefined when it is not cached. */
  get(cells: readonly CacheCell[]): Promise<CachedRecord[]>;
  /**
   * Sets each cell atomically only if it is not cached, negative, or older than the record
   * (the same order as the store's conditional write), with the cell's TTL in milliseconds.
   */
  put(entries: readonly { cell: CacheCell; record: ViewRecord; ttlMs: number }[]): Promise<void>;
  /** Marks cells MISSING for `ttlMs` unless they already hold something. */
  putMissing(cells: readonly CacheCell[], ttlMs: number): Promise<void>;
}
