/**
 * `npm start`: brings Drivetrain up on this machine and runs its main jobs through the CLI
 * exactly as a user would: a sample training job, then the sample drive through the sensor
 * ETL. Then keeps serving until Ctrl-C (or exits, with --exit).
 */

import { processIo } from '../cli/io';
import { main as cli } from '../cli/main';
import { localRuntimeConfig } from '../config/local';
import { startLocalEtl } from './etl/runtime';
import { SAMPLE_DRIVE_JOB_CONFIG, sampleDriveFiles } from './etl/sample-drive';
import { localEtlSettings } from './etl/settings';
import { featuresDemo } from './features/demo';
import { startLocalFeatures } from './features/runtime';
import { startLocalPlatform } from './platform';

const exitAfterDemo = process.argv.includes('--exit');
const config = localRuntimeConfig();
const platform = await startLocalPlatform(config);
console.log(`\nDrivetrain is running at ${platform.url} (data in ${config.dataDir})`);
console.log(
  `Teams: ${config.environment.teams.map((t) => t.name).join(', ')}; local pools: ${config.pools.nodesPerPool} nodes x ${config.pools.gpusPerNode} GPU slots per fleet and capacity type\n`,
);

const io = processIo();
const run = (...argv: string[]) => {
  console.log(`$ drivetrain ${argv.join(' ')}`);
  return cli([...argv, '--api', platform.url, '--team', 'perception'], io);
};

const submitted = await run('submit', 'examples/jobs/sample-training.yaml', '--wait');
const latest = await fetch(`${platform.url}/jobs?limit=1`, {
  headers: { 'X-Drivetrain-Team': 'perception' },
});
const [last] = ((await latest.json()) as { jobs: { id: string }[] }).jobs;
if (last) await run('logs', last.id);
await run('queues');

// Sensor ETL: the raw-folder watcher starts runs as S3 events do; the sample drive goes through it.
const etlSettings = localEtlSettings(process.env, {
  jobConfig: process.env.DRIVETRAIN_ETL_JOB_CONFIG ? {} : SAMPLE_DRIVE_JOB_CONFIG,
});
const etl = await startLocalEtl({ settings: etlSettings, watch: true });
await etl.workflow?.idle(); // the start-up sweep: what landed while nothing watched
console.log(`\nSensor ETL: watching ${etlSettings.dataDir}/buckets/raw/raw/ for new logs`);
const sampleDrive = ['--vehicle', 'sample', '--drive', 'shared-data', ...sampleDriveFiles(etlSettings)];
const ingested = await run('data', 'ingest', ...sampleDrive);
await run('data', 'tables');

// Feature store: materialize the sample features from the tables just made, then look one up.
const features = await startLocalFeatures(config);
const served = await featuresDemo(features, run);
const demo = submitted || ingested || served;

if (exitAfterDemo || demo !== 0) {
  await features.close();
  await etl.close();
  await platform.close();
  process.exit(demo);
}
console.log(
  `\nTry: npm run drivetrain -- --api ${platform.url} --team planning submit examples/jobs/sample-training.yaml --wait`,
);
console.log(
  'Try: npm run drivetrain -- data runs, or data show <table> --limit 5; drop logs into the raw folder to start a run',
);
console.log('Ctrl-C stops the platform; jobs, logs, runs and tables persist in .drivetrain/.');
const stop = async () => {
  await features.close();
  await etl.close();
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
