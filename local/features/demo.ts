import type { LocalFeatures } from './runtime';

/** Runs a `drivetrain` CLI command and resolves to its exit code. */
export type CliRunner = (...argv: string[]) => Promise<number>;

/**
 * The feature store's part of `npm start`: list the services, materialize the sample
 * features from the ETL tables (progress and the work skipped), then look one drive up.
 */
export async function featuresDemo(features: LocalFeatures, cli: CliRunner): Promise<number> {
  const api = ['--features-api', features.url];
  console.log(`\nFeature store: Feast-compatible feature API at ${features.url}`);
  await cli('features', 'list', ...api);
  const materialized = await cli('features', 'materialize', ...api);
  if (materialized !== 0) return materialized;
  const examples = (await (await fetch(`${features.url}/examples`)).json()) as Record<
    string,
    Record<string, unknown>
  >;
  const drive = examples.drive_motion?.drive_id ?? examples.drive_imu?.drive_id;
  if (typeof drive !== 'string') {
    console.log(
      'No ETL tables to materialize yet: ingest a drive (drivetrain data ingest) and run drivetrain features materialize.',
    );
    return 0;
  }
  return cli('features', 'get', '--service', 'drive_summary', '--entity', `drive_id=${drive}`, ...api);
}
