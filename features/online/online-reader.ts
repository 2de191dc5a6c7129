import type { ServedView } from '../catalog';
import { type CacheCell, type FeatureCache, MISSING, type OnlineStore } from './ports';
import type { ViewRecord } from './record';

export interface CachePolicy {
  /** The whole cache lookup of one request gets this long; past it the read goes to DynamoDB. */
  readonly timeoutMs: number;
  /**
   * Time the event loop spends on other requests while a lookup waits is given again, up to
   * this wait in all (default 40 x `timeoutMs`): on a saturated server a reply queued behind
   * its own work is not a slow cache, and sending the read to DynamoDB only adds work. On an
   * idle loop a hung cache still costs `timeoutMs`.
   */
  readonly maxBusyWaitMs?: number;
  /**
   * After `tripAfter` lookups in a row fail or time out, skip the cache this long (ioredis
   * reconnects meanwhile). One slow answer (a GC pause, a busy host) costs only itself.
   */
  readonly cooldownMs: number;
  readonly tripAfter?: number;
  /** How long an entity known to be absent is remembered. */
  readonly negativeTtlMs: number;
}

export const DEFAULT_CACHE_POLICY: CachePolicy = { timeoutMs: 25, cooldownMs: 1_000, negativeTtlMs: 30_000 };

/** Counters since start: the hit rate the API reports and the alarms watch. */
export interface ReadStats {
  cacheHits: number;
  cacheNegativeHits: number;
  cacheMisses: number;
  /** Lookups that skipped or abandoned the cache (down, slow or cooling down). */
  cacheFallbacks: number;
  storeReads: number;
  /** Cells that joined another request's store read instead of reading again. */
  sharedReads: number;
}

export interface ViewCells {
  readonly view: ServedView;
  /** Entity keys, in request order; duplicates allowed. */
  readonly keys: readonly string[];
}

/**
 * The read path: cache first within a time budget, then one batched DynamoDB read for
 * whatever the cache did not answer, shared by concurrent requests (single-flight), and
 * filled back into the cache with the same newer-wins rule the writers use. A record of
 * another view version counts as absent.
 */
export class OnlineReader {
  readonly stats: ReadStats = {
    cacheHits: 0,
    cacheNegativeHits: 0,
    cacheMisses: 0,
    cacheFallbacks: 0,
    storeReads: 0,
    sharedReads: 0,
  };
  private cacheDownUntil = 0;
  private consecutiveFailures = 0;
  private readonly inflight = new Map<string, Promise<ViewRecord | undefined>>();

  constructor(
    private readonly store: OnlineStore,
    private readonly cache: FeatureCache | undefined,
    private readonly policy: CachePolicy = DEFAULT_CACHE_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records per view, aligned with each `keys` list; undefined where there is none. */
  async read(requests: readonly ViewCells[]): Promise<(ViewRecord | undefined)[][]> {
    const cells: CacheCell[] = [];
    const views = new Map<string, ServedView>();
    // Views of one entity share its keys list: its duplicates are found once (most lists have none).
    const firstRows = new Map<readonly string[], readonly number[] | undefined>();
    const positions = requests.map(({ view, keys }) => {
      views.set(view.name, view);
      let firstRow = firstRows.get(keys);
      if (!firstRows.has(keys)) {
        firstRow = firstRowOfEachKey(keys);
        firstRows.set(keys, firstRow);
      }
      const indexes = new Array<number>(keys.length);
      for (let row = 0; row < keys.length; row++) {
        const first = firstRow ? firstRow[row]! : row;
        if (first === row) {
          indexes[row] = cells.length;
          cells.push({ key: keys[row]!, view: view.name, version: view.version });
        } else indexes[row] = indexes[first]!;
      }
      return indexes;
    });

    const found = new Array<ViewRecord | undefined>(cells.length);
    const unanswered = await this.fromCache(cells, found, views);
    if (unanswered.length > 0) await this.fromStore(cells, unanswered, found, views);
    return positions.map((indexes) => indexes.map((i) => found[i]));
  }

  private async fromCache(
    cells: CacheCell[],
    found: (ViewRecord | undefined)[],
    views: Map<string, ServedView>,
  ): Promise<number[]> {
    const all = cells.map((_, i) => i);
    if (!this.cache || this.now() < this.cacheDownUntil) {
      if (this.cache) this.stats.cacheFallbacks += cells.length;
      return all;
    }
    const { timeoutMs, maxBusyWaitMs = 40 * timeoutMs } = this.policy;
    const cached = await withTimeout(this.cache.get(cells), timeoutMs, maxBusyWaitMs).catch(() => undefined);
    if (!cached) {
      if (++this.consecutiveFailures >= (this.policy.tripAfter ?? 3)) this.cacheDown();
      this.stats.cacheFallbacks += cells.length;
      return all;
    }
    this.consecutiveFailures = 0;
    const unanswered: number[] = [];
    cached.forEach((entry, i) => {
      if (entry === MISSING) {
        this.stats.cacheNegativeHits++;
      } else if (entry === undefined || entry.version !== views.get(cells[i]!.view)!.version) {
        this.stats.cacheMisses++;
        unanswered.push(i);
      } else {
        this.stats.cacheHits++;
        found[i] = entry;
      }
    });
    return unanswered;
  }

  private async fromStore(
    cells: CacheCell[],
    indexes: number[],
    found: (ViewRecord | undefined)[],
    views: Map<string, ServedView>,
  ): Promise<void> {
    const waits: Promise<void>[] = [];
    const mine: number[] = [];
    for (const i of indexes) {
      const id = cellId(cells[i]!);
      const shared = this.inflight.get(id);
      if (shared) {
        this.stats.sharedReads++;
        waits.push(
          shared.then((record) => {
            found[i] = record;
          }),
        );
      } else mine.push(i);
    }
    if (mine.length > 0) {
      const batch = this.readBatch(
        mine.map((i) => cells[i]!),
        views,
      );
      mine.forEach((i, j) => {
        const id = cellId(cells[i]!);
        const one = batch.then((records) => records[j]);
        this.inflight.set(id, one);
        // Only the first holder clears the entry; a failed read rejects its waiters too.
        one.then(
          () => this.inflight.get(id) === one && this.inflight.delete(id),
          () => this.inflight.get(id) === one && this.inflight.delete(id),
        );
        waits.push(
          one.then((record) => {
            found[i] = record;
          }),
        );
      });
    }
    await Promise.all(waits);
  }

  private async readBatch(
    cells: CacheCell[],
    views: Map<string, ServedView>,
  ): Promise<(ViewRecord | undefined)[]> {
    this.stats.storeReads++;
    const items = await this.store.read(
      cells.map((c) => c.key),
      [...new Set(cells.map((c) => c.view))],
    );
    const records = cells.map((cell) => {
      const record = items.get(cell.key)?.get(cell.view);
      return record && record.version === cell.version ? record : undefined;
    });
    this.fill(cells, records, views);
    return records;
  }

  /** Fills the cache without holding up the response; a failed fill only costs a later miss. */
  private fill(
    cells: CacheCell[],
    records: (ViewRecord | undefined)[],
    views: Map<string, ServedView>,
  ): void {
    if (!this.cache || this.now() < this.cacheDownUntil) return;
    const present = cells.flatMap((cell, i) => {
      const record = records[i];
      return record ? [{ cell, record, ttlMs: views.get(cell.view)!.cacheTtlMs }] : [];
    });
    const absent = cells.filter((_, i) => !records[i]);
    const fills: Promise<void>[] = [];
    if (present.length > 0) fills.push(this.cache.put(present));
    if (absent.length > 0) fills.push(this.cache.putMissing(absent, this.policy.negativeTtlMs));
    // A failed fill only costs a later miss; lookups decide whether the cache is down.
    withTimeout(Promise.all(fills), this.policy.timeoutMs * 4).catch(() => {});
  }

  private cacheDown(): void {
    this.cacheDownUntil = this.now() + this.policy.cooldownMs;
    this.consecutiveFailures = 0;
  }

  /** Hits (positive and negative) over all cache lookups, fallbacks counted as misses. */
  hitRate(): number {
    const { cacheHits, cacheNegativeHits, cacheMisses, cacheFallbacks } = this.stats;
    const total = cacheHits + cacheNegativeHits + cacheMisses + cacheFallbacks;
    return total === 0 ? 0 : (cacheHits + cacheNegativeHits) / total;
  }
}

/** For each row, the first row with the same key; undefined when every key is distinct. */
function firstRowOfEachKey(keys: readonly string[]): number[] | undefined {
  const seen = new Map<string, number>();
  let duplicates = false;
  const firstRow = keys.map((key, row) => {
    const first = seen.get(key);
    if (first !== undefined) {
      duplicates = true;
      return first;
    }
    seen.set(key, row);
    return row;
  });
  return duplicates ? firstRow : undefined;
}

function cellId(cell: CacheCell): string {
  return `${cell.view}\u0000${cell.version}\u0000${cell.key}`;
}

/**
 * Rejects after `ms` of the caller's own time (the work itself carries on and its result is
 * dropped). A budget is for a slow cache, not a busy process, so the verdict waits for the I/O
 * already received (timers run before the event loop reads its sockets; setImmediate runs
 * after), and time the loop spent on other work past the deadline is given again, up to
 * `maxMs` in all: on a saturated server a reply queued behind other requests is not late, and
 * sending every read to DynamoDB instead (94% of them in the 100x50 closed loop of
 * bench:features before; still 52% with a 4x cap on a loaded machine) only adds work.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, maxMs = 4 * ms): Promise<T> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (due: number) => {
      timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            const now = performance.now();
            const late = now - due;
            if (late > Math.max(2, ms / 4) && now - start < maxMs) arm(Math.min(now + late, start + maxMs));
            else reject(new Error(`timed out after ${Math.round(now - start)} ms`));
          }),
        Math.max(0, due - performance.now()),
      );
    };
    arm(start + ms);
  });
  return Promise.race([
    work.finally(() => {
      settled = true;
    }),
    timeout,
  ]).finally(() => clearTimeout(timer));
}
