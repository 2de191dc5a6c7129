import { join } from 'node:path';
import type { LocalRuntimeConfig } from '../../config/local';
import { startLocalDynamoDb } from '../dynalite';
import { startLocalRedis } from '../redis';
import { DEFAULT_FEATURE_PORT, type LocalFeatureServer, startLocalFeatureServer } from './feature-server';

export interface LocalFeatures {
  readonly server: LocalFeatureServer;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The feature store on this machine, laid out as on AWS: its own DynamoDB (dynalite,
 * `.drivetrain/features/dynamodb`), a redis-server for ElastiCache (`.drivetrain/redis`), and
 * the feature API on 127.0.0.1:${DRIVETRAIN_FEATURES_PORT:-8788}, whose local routes run the
 * Spark jobs over the ETL warehouse (`.drivetrain/warehouse`).
 */
export async function startLocalFeatures(
  config: LocalRuntimeConfig,
  env = process.env,
): Promise<LocalFeatures> {
  const root = join(config.dataDir, 'features');
  const [db, redis] = await Promise.all([
    startLocalDynamoDb({ path: config.persist ? join(root, 'dynamodb') : undefined }),
    startLocalRedis({ dataDir: config.persist ? join(config.dataDir, 'redis') : undefined }),
  ]);
  const server = await startLocalFeatureServer({
    environment: config.environment,
    db,
    redis,
    host: config.host,
    port: Number(env.DRIVETRAIN_FEATURES_PORT ?? DEFAULT_FEATURE_PORT),
    dataDir: config.dataDir,
    defaultTeam: env.DRIVETRAIN_TEAM,
    spark: { warehouse: env.DRIVETRAIN_WAREHOUSE ?? join(config.dataDir, 'warehouse'), output: root },
  });
  return {
    server,
    url: server.url,
    close: async () => {
      await server.close();
      await Promise.all([db.close(), redis.close()]);
    },
  };
}
