/** A bundle of the resources the scheduler shares out: the DRF dimensions. */
export interface Resources {
  readonly gpus: number;
  readonly cpus: number;
  readonly memoryMiB: number;
}

export const NO_RESOURCES: Resources = { gpus: 0, cpus: 0, memoryMiB: 0 };

export const RESOURCE_NAMES = ['gpus', 'cpus', 'memoryMiB'] as const satisfies readonly (keyof Resources)[];

export function addResources(a: Resources, b: Resources): Resources {
  return { gpus: a.gpus + b.gpus, cpus: a.cpus + b.cpus, memoryMiB: a.memoryMiB + b.memoryMiB };
}

export function scaleResources(r: Resources, factor: number): Resources {
  return { gpus: r.gpus * factor, cpus: r.cpus * factor, memoryMiB: r.memoryMiB * factor };
}

/**
 * Dominant Resource Fairness share: the largest fraction of any one resource that `used`
 * takes of `total` (Ghodsi et al., NSDI'11). Resources the cluster lacks are ignored.
 */
export function dominantShare(used: Resources, total: Resources): number {
  let share = 0;
  for (const name of RESOURCE_NAMES) {
    if (total[name] > 0) share = Math.max(share, used[name] / total[name]);
  }
  return share;
}
