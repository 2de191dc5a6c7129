import type { ServedView } from '../catalog';
import { withTimeout } from './online-reader';
import type { FeatureCache, OnlineStore, RecordWrite } from './ports';

export interface WriteReport {
  /** Records that became the latest of their view in DynamoDB. */
  readonly written: number;
  /** Records older than (or the same as) what DynamoDB already held: not written. */
  readonly stale: number;
  /** Written records whose cache update failed; the cache TTL bounds how long a stale copy is served. */
  readonly cacheUpdateFailures: number;
}

/**
 * The write path of materialization and push: a conditional write per view in DynamoDB
 * (newer event time wins), then, for the records that won, the same newer-wins update of
 * the cache in one atomic script per entity. A stale record changes neither.
 */
export class OnlineWriter {
  constructor(
    private readonly store: OnlineStore,
    private readonly cache: FeatureCache | undefined,
    private readonly views: ReadonlyMap<string, ServedView>,
    private readonly cacheTimeoutMs = 250,
  ) {}

  async write(writes: readonly RecordWrite[]): Promise<WriteReport> {
    const won = await this.store.write(writes);
    const winners = writes.filter((_, i) => won[i]);
    let cacheUpdateFailures = 0;
    if (this.cache && winners.length > 0) {
      const entries = winners.map((w) => {
        const view = this.views.get(w.view)!;
        return {
          cell: { key: w.key, view: w.view, version: w.record.version },
          record: w.record,
          ttlMs: view.cacheTtlMs,
        };
      });
      await withTimeout(this.cache.put(entries), this.cacheTimeoutMs).catch(() => {
        cacheUpdateFailures = winners.length;
      });
    }
    return { written: winners.length, stale: writes.length - winners.length, cacheUpdateFailures };
  }
}
