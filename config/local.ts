import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { environmentConfig } from './environments';
import type { EnvironmentConfig } from './schema';

export interface LocalPoolSizes {
  /** Nodes per pool. */
  readonly nodesPerPool: number;
  /** GPU slots per local node. */
  readonly gpusPerNode: number;
}

/** Settings of the local runtime: the platform on one machine. */
export interface LocalRuntimeConfig {
  /** Teams, fleets and quotas come from this environment (dev by default). */
  readonly environment: EnvironmentConfig;
  readonly host: string;
  readonly port: number;
  /** DynamoDB data (dynalite's LevelDB) and job logs live here, so nothing is lost across restarts. */
  readonly dataDir: string;
  readonly pools: LocalPoolSizes;
  /** Keep DynamoDB data on disk (the default); tests run in memory. */
  readonly persist: boolean;
  /** How often the dispatcher runs without being woken by a submission or a finished job. */
  readonly dispatchIntervalMs: number;
  /** At least this long between rounds, so a burst of submissions cannot starve the API of CPU. */
  readonly dispatchMinGapMs: number;
  /**
   * A running job younger than this is never preempted. On AWS this is minutes (restarts are
   * expensive); local jobs are short, so a few seconds keeps preemption observable.
   */
  readonly preemptionGraceS: number;
  /** SIGTERM to SIGKILL, for jobs told to stop. */
  readonly killGraceMs: number;
  /** Jobs' working directory: the repository, so relative commands such as examples/ resolve. */
  readonly jobWorkingDir: string;
}

/** GPUs of this machine per nvidia-smi, or undefined when there is none. */
function detectGpus(): number | undefined {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    const count = out.trim().split('\n').filter(Boolean).length;
    return count > 0 ? count : undefined;
  } catch {
    return undefined;
  }
}

export function localRuntimeConfig(
  env: NodeJS.ProcessEnv = process.env,
  root = process.cwd(),
): LocalRuntimeConfig {
  const gpusPerNode = Number(env.DRIVETRAIN_LOCAL_GPUS_PER_NODE ?? detectGpus() ?? 4);
  return {
    environment: environmentConfig('dev'),
    host: '127.0.0.1',
    port: Number(env.DRIVETRAIN_PORT ?? 8787),
    dataDir: env.DRIVETRAIN_DATA_DIR ?? join(root, '.drivetrain'),
    pools: { nodesPerPool: Number(env.DRIVETRAIN_LOCAL_NODES_PER_POOL ?? 2), gpusPerNode },
    persist: true,
    dispatchIntervalMs: Number(env.DRIVETRAIN_DISPATCH_INTERVAL_MS ?? 1000),
    dispatchMinGapMs: Number(env.DRIVETRAIN_DISPATCH_MIN_GAP_MS ?? 250),
    preemptionGraceS: Number(env.DRIVETRAIN_PREEMPTION_GRACE_S ?? 5),
    killGraceMs: Number(env.DRIVETRAIN_KILL_GRACE_MS ?? 5000),
    jobWorkingDir: root,
  };
}
