import type { ClusterState, Job, Pool, RunningJob, Team } from '../scheduler/model';
import type { SchedulingPolicy } from '../scheduler/policy';
import { PRIORITY_CLASS_NAMES } from '../scheduler/priority-classes';
import { uniformHash } from '../simulator/workload';

/**
 * A synthetic worst case for one round: `pendingJobs` queued across the teams, and the
 * cluster full of running work, half of it preemptible, so the round must scan, consider
 * preemption and explain every pending job.
 */
export function backloggedState(
  pools: readonly Pool[],
  teams: readonly Team[],
  pendingJobs: number,
  now: number,
): ClusterState {
  const draw = (i: number, salt: number) => uniformHash(salt, i);
  const shapes = [1, 1, 1, 1, 2, 4, 8, 16, 32];
  const job = (i: number, team: string, gpus: number, gpuType: string): Job => {
    const priorityClass = PRIORITY_CLASS_NAMES[Math.floor(draw(i, 1) * PRIORITY_CLASS_NAMES.length)]!;
    return {
      id: `job-${i}`,
      team,
      priorityClass,
      resources: { gpus, gpuType, cpus: gpus * 8, memoryMiB: gpus * 65_536, nodes: Math.ceil(gpus / 8) },
      preemptible: priorityClass === 'preemptible',
      maxRuntimeS: 86_400,
      submitTime: now - Math.floor(draw(i, 2) * 86_400 * 7),
      state: 'pending',
      attainedGpuS: 0,
    };
  };
  const running: RunningJob[] = [];
  let id = 0;
  for (const pool of pools) {
    for (let node = 0; node < pool.nodeCount; node++) {
      const team = teams[id % teams.length]!.id;
      const run = job(id++, team, pool.node.gpus, pool.gpuType);
      running.push({
        job: { ...run, state: 'running' },
        placement: { poolId: pool.id, nodes: [node] },
        startedAt: now - 3600,
        lastCheckpointAt: now - 600,
      });
    }
  }
  const gpuType = pools[0]?.gpuType ?? 'v100';
  const pending = Array.from({ length: pendingJobs }, (_, i) => {
    const n = id + i;
    return job(
      n,
      teams[Math.floor(draw(n, 3) * teams.length)]!.id,
      shapes[Math.floor(draw(n, 4) * shapes.length)]!,
      gpuType,
    );
  });
  return { pools, teams, pending, running, usage: { at: now - 60, byTeam: {} } };
}

/** Median wall time of `rounds` stateless rounds (snapshot in, decision out, reasons for all). */
export function medianRoundMs(
  policy: SchedulingPolicy,
  state: ClusterState,
  now: number,
  rounds: number,
): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    const decision = policy.decide(state, now);
    times.push(performance.now() - start);
    if (decision.waiting.length + decision.starts.length < state.pending.length) {
      throw new Error('a round must account for every pending job');
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
