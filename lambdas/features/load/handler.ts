import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { jsonLines, loadDelta, WatermarkStore } from '../../../features/online/online-loader';
import { logger, metrics, tracer } from '../../commons/powertools';
import { catalog, dynamodb, environment, refreshCacheToken, tableName, writer } from '../commons';

const s3 = tracer.captureAWSv3Client(new S3Client({}));
const watermarks = new WatermarkStore(dynamodb, tableName);
const batchRows = environment.features.materialization.onlineBatchRows;

/** A run's delta plan (written by the Spark job), one delta object, or one view's new watermark. */
export type LoadEvent =
  | { readonly action: 'plan'; readonly bucket: string; readonly key: string }
  | { readonly action: 'load'; readonly view: string; readonly bucket: string; readonly key: string }
  | { readonly action: 'commit'; readonly view: string; readonly version: string; readonly sequence: number };

/** What the Spark job writes to `runs/<run id>/online-plan.json`. */
export interface OnlinePlan {
  readonly loads: { view: string; bucket: string; key: string }[];
  readonly commits: { view: string; version: string; sequence: number }[];
}

/**
 * The materialization workflow's online step: streams one delta object (JSON lines) from S3
 * into DynamoDB and the cache in batches, so memory stays bounded whatever the object size.
 */
export const handler = async (event: LoadEvent, context: Context) => {
  logger.addContext(context);
  if (event.action === 'plan') {
    const object = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: event.key }));
    const plan = JSON.parse(await object.Body!.transformToString()) as OnlinePlan;
    return {
      loads: plan.loads.map((load) => ({ action: 'load', ...load })),
      commits: plan.commits.map((commit) => ({ action: 'commit', ...commit })),
    };
  }
  const view = catalog.views.get(event.view);
  if (!view) throw new Error(`unknown feature view ${event.view}`);
  try {
    if (event.action === 'commit') {
      const advanced = await watermarks.advance(view.name, {
        version: event.version,
        sequence: event.sequence,
        loadedAtMs: Date.now(),
      });
      return { view: view.name, advanced };
    }
    await refreshCacheToken();
    const object = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: event.key }));
    const report = await loadDelta(view, jsonLines(object.Body as Readable), writer, batchRows);
    metrics.addMetric('OnlineRowsWritten', 'Count', report.written);
    metrics.addMetric('OnlineRowsStale', 'Count', report.stale);
    logger.info('loaded delta', { view: view.name, key: event.key, ...report });
    return report;
  } finally {
    metrics.publishStoredMetrics();
  }
};
