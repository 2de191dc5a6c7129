import { z } from 'zod';

/**
 * The feature store's section of an environment (`features` in config/schema.ts): sizing of
 * the cache, the feature API and the materialization runs, and the alarm thresholds. Every
 * field has a default, so an environment only states what it changes.
 */
export const featureStoreConfigSchema = z
  .object({
    cache: z
      .object({
        /** ElastiCache Serverless caps: storage in GB and ECPUs per second. */
        maxDataStorageGb: z.number().int().min(1).max(5_000).default(10),
        maxEcpuPerSecond: z.number().int().min(1_000).max(15_000_000).default(100_000),
        /** Daily snapshots kept; a cache can be rebuilt from DynamoDB, so few are needed. */
        snapshotRetentionDays: z.number().int().min(0).max(35).default(1),
        /** A read waits this long for the cache before it goes to DynamoDB. */
        readTimeoutMs: z.number().int().min(1).max(1_000).default(15),
      })
      .strict()
      .default({
        maxDataStorageGb: 10,
        maxEcpuPerSecond: 100_000,
        snapshotRetentionDays: 1,
        readTimeoutMs: 15,
      }),
    api: z
      .object({
        memoryMiB: z.number().int().min(256).max(10_240).default(1_024),
        /** API Gateway stage throttling: steady requests per second and burst. */
        rateLimit: z.number().int().min(1).max(100_000).default(1_000),
        burstLimit: z.number().int().min(1).max(100_000).default(2_000),
      })
      .strict()
      .default({ memoryMiB: 1_024, rateLimit: 1_000, burstLimit: 2_000 }),
    materialization: z
      .object({
        /** EventBridge schedule expression of the periodic run (ETL completions also start one). */
        schedule: z
          .string()
          .regex(/^(rate|cron)\(.+\)$/, 'an EventBridge rate(...) or cron(...) expression')
          .default('rate(1 hour)'),
        glueWorkers: z.number().int().min(2).max(299).default(4),
        timeoutMinutes: z.number().int().min(5).max(2_880).default(120),
        /** Rows one loader invocation writes online: bounds its memory whatever the delta size. */
        onlineBatchRows: z.number().int().min(100).max(100_000).default(5_000),
      })
      .strict()
      .default({ schedule: 'rate(1 hour)', glueWorkers: 4, timeoutMinutes: 120, onlineBatchRows: 5_000 }),
    /** Glue database of the ETL pillar's tables when no Data stack is passed; defaults to `drivetrain_<env>` (lib/data-stack.ts). */
    etlDatabase: z
      .string()
      .regex(/^[a-z0-9_]{1,255}$/)
      .optional(),
    alarms: z
      .object({
        latencyP99Ms: z.number().positive().default(50),
        errorRatePercent: z.number().positive().max(100).default(1),
        cacheHitRatePercent: z.number().positive().max(100).default(80),
      })
      .strict()
      .default({ latencyP99Ms: 50, errorRatePercent: 1, cacheHitRatePercent: 80 }),
  })
  .strict();

export type FeatureStoreConfig = z.infer<typeof featureStoreConfigSchema>;

export const DEFAULT_FEATURE_STORE_CONFIG: FeatureStoreConfig = featureStoreConfigSchema.parse({});
