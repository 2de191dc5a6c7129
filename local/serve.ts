/**
 * The local platform alone, without the demo: what the chaos test kills and restarts and what
 * the API contract test talks to. Settings come from the same DRIVETRAIN_* variables as
 * `npm start`, plus DRIVETRAIN_PERSIST=0 to keep DynamoDB in memory, and for the chaos test
 * DRIVETRAIN_FAULTS (a FaultPlan as JSON) and DRIVETRAIN_ROUND_LOG (a file of round timings). Prints one JSON line,
 * `{"url", "pid"}`, once it serves; SIGTERM or SIGINT stops it cleanly.
 */
import { appendFileSync } from 'node:fs';
import { localRuntimeConfig } from '../config/local';
import type { FaultPlan } from './faults';
import { startLocalPlatform } from './platform';

const config = localRuntimeConfig();
const roundLog = process.env.DRIVETRAIN_ROUND_LOG;
const platform = await startLocalPlatform(
  {
    ...config,
    persist: process.env.DRIVETRAIN_PERSIST !== '0',
    jobWorkingDir: process.env.DRIVETRAIN_JOB_WORKING_DIR ?? config.jobWorkingDir,
  },
  {
    // Chaos testing only (bench/chaos.ts): the faults to inject, and where each round is logged.
    faults: process.env.DRIVETRAIN_FAULTS
      ? (JSON.parse(process.env.DRIVETRAIN_FAULTS) as FaultPlan)
      : undefined,
    onRound: roundLog
      ? ({ ms, statuses, queued, burstApplied }) =>
          appendFileSync(
            roundLog,
            `${JSON.stringify({ at: Date.now(), ms, statuses, queued, burstApplied })}\n`,
          )
      : undefined,
  },
);
console.log(JSON.stringify({ url: platform.url, pid: process.pid }));
const stop = async () => {
  await platform.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
