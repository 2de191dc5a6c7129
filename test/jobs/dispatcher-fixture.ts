import { environmentConfig } from '../../config/environments';
import { localPools, teamsOf } from '../../jobs/cluster';
import { Dispatcher, type DispatcherOptions } from '../../jobs/dispatcher';
import type { ComputeBackend, JobStore } from '../../jobs/ports';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';

export const devEnvironment = environmentConfig('dev');

/** A dispatcher over the dev environment's local pools (`nodesPerPool` 4-slot nodes each) and one local backend. */
export function localDispatcher(
  store: JobStore,
  backend: ComputeBackend,
  extra: Partial<DispatcherOptions> & { nodesPerPool?: number } = {},
): Dispatcher {
  const { nodesPerPool = 1, ...options } = extra;
  return new Dispatcher({
    store,
    policy: new DrivetrainPolicy(),
    pools: localPools(devEnvironment, { nodesPerPool, gpusPerNode: 4 }),
    teams: teamsOf(devEnvironment),
    backends: { local: backend },
    defaultBackend: 'local',
    ...options,
  });
}
