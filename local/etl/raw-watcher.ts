import { randomUUID } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { RAW_PREFIX, RAW_SUFFIXES } from '../../step-functions/ingest';
import { isPartial } from './local-buckets';

export interface RawWatcherOptions {
  /** The raw bucket's folder; objects are under its `raw/` prefix. */
  readonly bucketDir: string;
  readonly bucketName: string;
  /** Events are collected for this long after the last one, as the EventBridge Pipe batches them. */
  readonly batchWindowMs: number;
  readonly maxBatch: number;
  /** Starts one execution with a batch of SQS records carrying S3 Object Created events. */
  readonly start: (batch: { messageId: string; body: string }[]) => void;
}

/**
 * The local stand-in for S3 event notifications, the EventBridge rule and the arrivals pipe:
 * a file that appears (complete, not `.partial`) under the raw folder with an ingest suffix
 * becomes an Object Created event; events are batched and start one execution per batch.
 */
export class RawWatcher {
  private readonly watcher: FSWatcher;
  private readonly pending = new Map<string, { size: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RawWatcherOptions) {
    this.watcher = watch(options.bucketDir, { recursive: true }, (_event, file) => {
      if (file) void this.saw(file.toString());
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher.close();
  }

  private async saw(file: string): Promise<void> {
    const key = file.split(sep).join('/');
    if (!key.startsWith(RAW_PREFIX) || isPartial(key) || !RAW_SUFFIXES.some((s) => key.endsWith(s))) return;
    const info = await stat(join(this.options.bucketDir, file)).catch(() => undefined);
    if (!info?.isFile()) return;
    this.pending.set(key, { size: info.size });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.options.batchWindowMs);
  }

  private flush(): void {
    const objects = [...this.pending.entries()];
    this.pending.clear();
    for (let i = 0; i < objects.length; i += this.options.maxBatch) {
      this.options.start(
        objects.slice(i, i + this.options.maxBatch).map(([key, { size }]) => ({
          messageId: randomUUID(),
          body: JSON.stringify(objectCreated(this.options.bucketName, key, size)),
        })),
      );
    }
  }
}

/** An S3 Object Created event as EventBridge delivers it. */
export function objectCreated(bucket: string, key: string, size: number) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'local',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: '0', bucket: { name: bucket }, object: { key, size }, reason: 'PutObject' },
  };
}

export function keyOf(bucketDir: string, path: string): string {
  return relative(bucketDir, path).split(sep).join('/');
}
