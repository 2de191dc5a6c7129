import { join } from 'node:path';
import { gibToBytes } from '../../config/data';
import { environmentConfig } from '../../config/environments';
import type { LocalEtlSettings } from './ingest-runner';

const REPO = join(import.meta.dirname, '..', '..');

/**
 * The local sensor-ETL's settings: the dev environment's data config, the project's
 * virtualenv and Spark on two cores. `DRIVETRAIN_DATA_DIR` moves `.drivetrain/`;
 * `DRIVETRAIN_ETL_JOB_CONFIG` (JSON) adds to the job's `--config` (a DBC file, for example);
 * `DRIVETRAIN_ETL_EMR_THRESHOLD_BYTES` lowers the EMR Serverless threshold to try that path;
 * `DRIVETRAIN_ETL_BATCH_WINDOW_MS` sets how long the raw-folder watcher batches new files.
 */
export function localEtlSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Pick<LocalEtlSettings, 'dataDir' | 'jobConfig' | 'emrThresholdBytes'>> = {},
): LocalEtlSettings {
  const { data } = environmentConfig('dev');
  const jobConfig = {
    ...data.job,
    ...(env.DRIVETRAIN_ETL_JOB_CONFIG
      ? (JSON.parse(env.DRIVETRAIN_ETL_JOB_CONFIG) as Record<string, unknown>)
      : {}),
    ...overrides.jobConfig,
  };
  return {
    dataDir: overrides.dataDir ?? env.DRIVETRAIN_DATA_DIR ?? join(REPO, '.drivetrain'),
    data,
    tableName: 'drivetrain-local-etl-runs',
    // Seconds on AWS (a drive's upload); locally files are copied at disk speed.
    eventBatchWindowMs: Number(env.DRIVETRAIN_ETL_BATCH_WINDOW_MS ?? 2000),
    job: {
      python: join(REPO, '.venv', 'bin', 'python'),
      module: 'drivetrain_spark.jobs.ingest',
      cwd: REPO,
      master: env.DRIVETRAIN_SPARK_MASTER ?? 'local[2]',
    },
    jobConfig,
    emrThresholdBytes:
      overrides.emrThresholdBytes ??
      Number(env.DRIVETRAIN_ETL_EMR_THRESHOLD_BYTES ?? gibToBytes(data.emrThresholdGiB)),
  };
}
