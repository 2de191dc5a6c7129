import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  /** ElastiCache Serverless is cluster mode, TLS only, and authenticates with IAM or a user. */
  readonly cluster?: boolean;
  readonly tls?: boolean;
  readonly username?: string;
  readonly password?: string;
}

/**
 * A cache client that fails fast: no offline queue and no per-command retries, so a read
 * during an outage rejects at once and the reader goes to DynamoDB; ioredis keeps
 * reconnecting in the background. Commands issued together go out as one pipeline.
 */
export function cacheClient(endpoint: CacheEndpoint): Redis | Cluster {
  const options: RedisOptions = {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    ...(endpoint.tls ? { tls: {} } : {}),
    ...(endpoint.username ? { username: endpoint.username } : {}),
    ...(endpoint.password ? { password: endpoint.password } : {}),
  };
  const client = endpoint.cluster
    ? new Cluster([{ host: endpoint.host, port: endpoint.port }], {
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        // ElastiCache's TLS certificates name the cluster endpoint, not each node's address.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: options,
      })
    : new Redis({ ...options, host: endpoint.host, port: endpoint.port });
  // Errors surface on each command; without a listener ioredis would also print every reconnect failure.
  client.on('error', () => {});
  return client;
}

/** Resolves once the client can take commands (it rejects them until then: no offline queue). */
export function cacheReady(client: Redis | Cluster, timeoutMs = 5_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cache not ready after ${timeoutMs} ms`)), timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
