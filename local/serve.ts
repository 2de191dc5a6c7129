/**
 * The local platform alone, without the demo: what the chaos test kills and restarts and what
 * the API contract test talks to. Settings come from the same DRIVETRAIN_* variables as
 * `npm start`, plus DRIVETRAIN_PERSIST=0 to keep DynamoDB in memory. Prints one JSON line,
 * `{"url", "pid"}`, once it serves; SIGTERM or SIGINT stops it cleanly.
 */
import { localRuntimeConfig } from '../config/local';
import { startLocalPlatform } from './platform';

const config = localRuntimeConfig();
const platform = await startLocalPlatform({
  ...config,
  persist: process.env.DRIVETRAIN_PERSIST !== '0',
  jobWorkingDir: process.env.DRIVETRAIN_JOB_WORKING_DIR ?? config.jobWorkingDir,
});
console.log(JSON.stringify({ url: platform.url, pid: process.pid }));
const stop = async () => {
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
