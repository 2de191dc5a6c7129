import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { iamPrincipalTeam } from '../../../api/identity';
import { S3PushLog } from '../../../features/offline/s3-push-log';
import { OnlineReader } from '../../../features/online/online-reader';
import { createFeatureApi } from '../../../features/serving/app';
import { FeatureServing } from '../../../features/serving/feature-service';
import { logger, metrics, tracer } from '../../commons/powertools';
import { cache, catalog, environment, refreshCacheToken, requiredEnv, store, writer } from '../commons';

const config = environment.features;
const reader = new OnlineReader(store, cache, {
  timeoutMs: config.cache.readTimeoutMs,
  cooldownMs: 1_000,
  negativeTtlMs: 30_000,
});
const serving = new FeatureServing({
  catalog,
  reader,
  writer,
  pushLog: new S3PushLog(tracer.captureAWSv3Client(new S3Client({})), requiredEnv('FEATURE_BUCKET')),
});
const app = createFeatureApi({ serving, reader, resolveTeam: iamPrincipalTeam(environment) });
const serve = handle(app);

/** API Gateway (REST, IAM auth) → the feature API the local runtime serves too. */
export const handler = async (event: LambdaEvent, context: Context) => {
  logger.addContext(context);
  await refreshCacheToken();
  const before = { ...reader.stats };
  try {
    return await serve(event, context as Parameters<typeof serve>[1]);
  } finally {
    // Per-invocation counts: the hit-rate alarm divides their sums.
    const { stats } = reader;
    metrics.addMetric(
      'CacheHits',
      'Count',
      stats.cacheHits + stats.cacheNegativeHits - before.cacheHits - before.cacheNegativeHits,
    );
    metrics.addMetric('CacheLookups', 'Count', totalLookups(stats) - totalLookups(before));
    metrics.publishStoredMetrics();
  }
};

function totalLookups(stats: OnlineReader['stats']): number {
  return stats.cacheHits + stats.cacheNegativeHits + stats.cacheMisses + stats.cacheFallbacks;
}
