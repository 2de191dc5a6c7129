import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureValue } from '../online/record';

/**
 * Where `POST /push ... to: offline` lands: one object per push under `push/<view>/`, which
 * the next materialization run appends to the view's Iceberg table and records as ingested.
 * A push is durable when `append` resolves; it is visible offline after that run.
 */
export interface OfflinePushLog {
  append(view: string, version: string, rows: readonly Record<string, FeatureValue>[]): Promise<string>;
}

/** Push objects are named so a listing sorts them in arrival order. */
export function pushObjectName(view: string, nowMs: number): string {
  return `push/${view}/${String(nowMs).padStart(15, '0')}-${randomUUID()}.json`;
}

/** The local stand-in for the feature bucket: files under `root`, written atomically. */
export class LocalPushLog implements OfflinePushLog {
  constructor(
    private readonly root: string,
    private readonly now: () => number = Date.now,
  ) {}

  async append(
    view: string,
    version: string,
    rows: readonly Record<string, FeatureValue>[],
  ): Promise<string> {
    const name = pushObjectName(view, this.now());
    const path = join(this.root, name);
    await mkdir(join(this.root, 'push', view), { recursive: true });
    await writeFile(`${path}.tmp`, JSON.stringify({ view, version, rows }));
    await rename(`${path}.tmp`, path);
    return name;
  }
}
