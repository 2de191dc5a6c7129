import type { ClusterState, Job, JobResources, Pool, RunningJob, Team } from '../../scheduler/model';

export const NOW = 1_700_000_000;
export const NODE = { gpus: 8, cpus: 64, memoryMiB: 524_288 };

export function pool(id: string, nodeCount: number, capacityType: Pool['capacityType'] = 'on-demand'): Pool {
  return { id, gpuType: 'v100', capacityType, nodeCount, node: NODE };
}

export function team(id: string, quota: number, weight = 1): Team {
  return { id, weight, nominalQuota: { v100: quota } };
}

export function job(id: string, overrides: Partial<Omit<Job, 'resources'>> & { gpus?: number } = {}): Job {
  const { gpus = 1, ...rest } = overrides;
  const resources: JobResources = {
    gpus,
    gpuType: 'v100',
    cpus: gpus * 8,
    memoryMiB: gpus * 65_536,
    nodes: Math.ceil(gpus / 8),
  };
  const priorityClass = rest.priorityClass ?? 'standard';
  return {
    id,
    team: 'a',
    priorityClass,
    resources,
    preemptible: priorityClass === 'preemptible',
    maxRuntimeS: 3600,
    submitTime: NOW - 60,
    state: 'pending',
    attainedGpuS: 0,
    ...rest,
  };
}

/** A running job on the given nodes, started an hour ago with its last checkpoint `lostS` ago. */
export function running(base: Job, poolId: string, nodes: number[], lostS = 600): RunningJob {
  return {
    job: { ...base, state: 'running' },
    placement: { poolId, nodes },
    startedAt: NOW - 3600,
    lastCheckpointAt: NOW - lostS,
  };
}

export function state(parts: Partial<ClusterState>): ClusterState {
  return {
    pools: [pool('od', 2)],
    teams: [team('a', 8), team('b', 8)],
    pending: [],
    running: [],
    usage: { at: NOW - 60, byTeam: {} },
    ...parts,
  };
}
