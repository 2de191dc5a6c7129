import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Cluster, type Redis } from 'ioredis';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentName } from '../../config/schema';
import { FeatureCatalog } from '../../features/catalog';
import { DynamoDbOnlineStore } from '../../features/online/dynamodb-online-store';
import { elastiCacheIamToken, TOKEN_LIFETIME_S } from '../../features/online/elasticache-iam-token';
import { OnlineWriter } from '../../features/online/online-writer';
import { RedisFeatureCache } from '../../features/online/redis-cache';
import { cacheClient } from '../../features/online/redis-client';
import { tracer } from '../commons/powertools';

/** A variable the Features stack sets; a missing one is a deployment bug, so fail loudly. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** What every feature Lambda shares: the registry, the online table and the cache, per execution environment. */
export const environment = environmentConfig(requiredEnv('DRIVETRAIN_ENV') as EnvironmentName);
export const catalog = new FeatureCatalog();
export const dynamodb = tracer.captureAWSv3Client(new DynamoDBClient({}));
export const tableName = requiredEnv('FEATURE_TABLE_NAME');
export const store = new DynamoDbOnlineStore(dynamodb, tableName);

const region = requiredEnv('AWS_REGION');
const cacheName = requiredEnv('CACHE_NAME');
const userId = requiredEnv('CACHE_USER_ID');
const credentials = fromNodeProviderChain();
let tokenIssuedAt = 0;

/** ElastiCache Serverless for Valkey: cluster mode, TLS, IAM auth with a token refreshed before it lapses. */
export const redis: Redis | Cluster = cacheClient({
  host: requiredEnv('CACHE_ENDPOINT'),
  port: Number(requiredEnv('CACHE_PORT')),
  cluster: true,
  tls: true,
  username: userId,
  // Connect only once refreshCacheToken has set the password.
  lazyConnect: true,
});
export const cache = new RedisFeatureCache(redis);
export const writer = new OnlineWriter(store, cache, catalog.views);

/** Call at the start of each invocation: reconnects (after a freeze or failover) need a live token. */
export async function refreshCacheToken(): Promise<void> {
  const now = Date.now();
  if (now - tokenIssuedAt < (TOKEN_LIFETIME_S - 120) * 1000) return;
  const token = await elastiCacheIamToken({ cacheName, userId, region, serverless: true, credentials });
  // A cluster client opens its node connections with redisOptions; a plain client with its own options.
  const options = (redis instanceof Cluster ? redis.options.redisOptions : redis.options) as {
    password?: string;
  };
  options.password = token;
  tokenIssuedAt = now;
  if (redis.status === 'wait') redis.connect().catch(() => {});
}
