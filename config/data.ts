import { z } from 'zod';

/**
 * The sensor-ETL section of an environment: bucket lifecycles, what one run may take, when
 * EMR Serverless takes over from Glue, and how large each may grow. Drives the Data stack,
 * the ingest workflow's substitutions and the local runner alike.
 */

const GIB = 1024 ** 3;

/** Glue worker types for Spark ETL jobs (Glue 5.1). */
export const glueWorkerTypes = ['G.1X', 'G.2X', 'G.4X', 'G.8X'] as const;

const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export const dataSchema = z
  .object({
    raw: z.object({
      /** Raw logs move to S3 Intelligent-Tiering this many days after upload. */
      intelligentTieringAfterDays: z.number().int().min(0).max(3650),
      /**
       * Then to an archive class. Glacier Instant Retrieval keeps re-ingest possible without
       * a restore; Flexible Retrieval and Deep Archive need one first.
       */
      archive: z
        .object({
          storageClass: z.enum(['GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']),
          afterDays: z.number().int().min(1).max(3650),
        })
        .optional(),
      /** Replaced or deleted raw versions are kept this long. */
      noncurrentVersionDays: z.number().int().min(1).max(3650),
    }),
    /** Rejected and corrupt inputs, with their reasons, are kept this long. */
    quarantineRetentionDays: z.number().int().min(1).max(3650),
    /** A single raw object larger than this is rejected before any Spark runs. */
    maxObjectGiB: z
      .number()
      .positive()
      .max(5 * 1024),
    /**
     * Objects per run (a request, a batch of events or one sweep page): keeps a run's manifest
     * and completion event within the 256 KB of a Step Functions payload and an event.
     */
    maxObjectsPerRun: z.number().int().min(1).max(500),
    /** Runs whose accepted inputs add up to more than this go to EMR Serverless, not Glue. */
    emrThresholdGiB: z.number().positive(),
    /** S3 Object Created events are batched by EventBridge Pipes for up to this long. */
    eventBatchWindowSeconds: z.number().int().min(0).max(300),
    /** The schedule sweeps the raw prefix for objects whose events were lost. */
    sweepEveryHours: z.number().int().min(1).max(168),
    glue: z.object({
      workerType: z.enum(glueWorkerTypes),
      workers: z.number().int().min(2).max(1000),
      timeoutMinutes: z.number().int().min(1).max(2880),
      maxConcurrentRuns: z.number().int().min(1).max(1000),
    }),
    emr: z.object({
      /** Upper bounds of the EMR Serverless application across all its running jobs. */
      maxVcpus: z.number().int().min(4).max(100_000),
      maxMemoryGiB: z.number().int().min(16).max(400_000),
      maxDiskGiB: z.number().int().min(20).max(2_000_000),
      /** The application stops (and bills nothing) after this long without jobs. */
      idleTimeoutMinutes: z.number().int().min(1).max(10_080),
      jobTimeoutMinutes: z.number().int().min(5).max(10_080),
      /**
       * S3 URI of a packed virtualenv (venv-pack) with the job's Python packages for EMR's
       * Python; without one, EMR Serverless runs have only the release's own packages.
       */
      pythonEnvironmentArchive: z
        .string()
        .regex(/^s3:\/\/[a-z0-9.-]+\/.+\.tar\.gz$/, 'an s3:// URI of a .tar.gz')
        .optional(),
    }),
    /** One of the retention periods CloudWatch Logs offers. */
    logRetentionDays: z
      .number()
      .int()
      .refine((days) => LOG_RETENTION_DAYS.includes(days), {
        message: `one of CloudWatch Logs' retention periods: ${LOG_RETENTION_DAYS.join(', ')}`,
      }),
    /** The ingest job's `--config` (its schema is the job's: spark/drivetrain_spark). */
    job: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((data, ctx) => {
    const { archive, intelligentTieringAfterDays } = data.raw;
    if (archive && archive.afterDays <= intelligentTieringAfterDays) {
      ctx.addIssue({
        code: 'custom',
        path: ['raw', 'archive', 'afterDays'],
        message: 'must be later than intelligentTieringAfterDays (S3 transitions run one way)',
      });
    }
    if (data.eventBatchWindowSeconds === 0 && data.maxObjectsPerRun > 10) {
      ctx.addIssue({
        code: 'custom',
        path: ['eventBatchWindowSeconds'],
        message: 'must be at least 1 for batches of more than 10 events (EventBridge Pipes, SQS source)',
      });
    }
    if (data.emrThresholdGiB > data.maxObjectGiB * data.maxObjectsPerRun) {
      ctx.addIssue({
        code: 'custom',
        path: ['emrThresholdGiB'],
        message:
          'is more than any run can accept (maxObjectGiB x maxObjectsPerRun): EMR Serverless would never run',
      });
    }
  });

export type DataConfig = z.infer<typeof dataSchema>;

export const gibToBytes = (gib: number) => Math.round(gib * GIB);
