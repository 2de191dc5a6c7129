/**
 * `npm start`: brings Drivetrain up on this machine and runs its main job, a sample training
 * job submitted through the CLI exactly as a user would, then keeps serving until Ctrl-C
 * (or exits, with --exit).
 */

import { processIo } from '../cli/io';
import { main as cli } from '../cli/main';
import { localRuntimeConfig } from '../config/local';
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
const features = await startLocalFeatures(config);
await featuresDemo(features, run);

if (exitAfterDemo || submitted !== 0) {
  await features.close();
  await platform.close();
  process.exit(submitted);
}
console.log(
  `\nTry: npm run drivetrain -- --api ${platform.url} --team planning submit examples/jobs/sample-training.yaml --wait`,
);
console.log('Ctrl-C stops the platform; jobs and their logs persist in .drivetrain/.');
const stop = async () => {
  await features.close();
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
