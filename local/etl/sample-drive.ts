import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalEtlSettings } from './ingest-runner';

/** The shared real data (`../shared/data/sensor`, its README lists the files). */
const SENSOR_DATA = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'sensor');
const COMMA2K19_SEGMENT = join(SENSOR_DATA, 'comma2k19', 'b0c9d2329ad1606b_2018-08-02--08-34-47_40');

/** The sample's CAN frames come from a Toyota RAV4: opendbc's DBC for it, with its IMPORTs. */
export const SAMPLE_DRIVE_JOB_CONFIG = { dbc: join(SENSOR_DATA, 'dbc', 'toyota_new_mc_pt.dbc') };

/** One log of each kind the job reads: ROS 2 MCAP, lidar MCAP (zstd), protobuf MCAP, ROS 1 bags (lz4, bz2), CAN. */
const SAMPLE_LOGS = [
  join('ros', 'ros2-talker', 'talker.mcap'),
  join('lidar', 'pointcloudset-ouster', 'ouster-os1-64.mcap'),
  join('protobuf', 'keelson-ais', 'ais-protobuf-zstd.mcap'),
  join('ros', 'ros1-turtlesim', 'example-lz4.bag'),
  join('gnss-imu', 'robot-localization-husky', 'husky-gnss-imu-bz2.bag'),
];

/**
 * The files of the sample drive, ready for `drivetrain data ingest`: the logs as they are,
 * plus comma2k19's raw CAN arrays converted to a `.can.parquet` (the raw CAN format) with the
 * Spark package's own converter.
 */
export function sampleDriveFiles(settings: LocalEtlSettings): string[] {
  const logs = SAMPLE_LOGS.map((file) => join(SENSOR_DATA, file));
  const missing = [...logs, COMMA2K19_SEGMENT].filter((path) => !existsSync(path));
  if (missing.length > 0)
    throw new Error(`sample drive: missing ${missing.join(', ')} (clone next to shared/)`);
  const staging = join(settings.dataDir, 'etl', 'sample-drive');
  mkdirSync(staging, { recursive: true });
  const can = join(staging, 'comma2k19-rav4.can.parquet');
  if (!existsSync(can)) {
    const converted = spawnSync(
      settings.job.python,
      ['-m', 'drivetrain_spark.can', 'convert', COMMA2K19_SEGMENT, can],
      { cwd: settings.job.cwd, encoding: 'utf8' },
    );
    if (converted.status !== 0) throw new Error(`sample drive: CAN conversion failed: ${converted.stderr}`);
  }
  return [...logs, can];
}
