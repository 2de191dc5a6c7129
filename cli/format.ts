import type { JobView } from './api-types';

/** Compact age like kubectl: `42s`, `5m`, `3h`, `2d`. */
export function formatAge(iso: string, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return '?';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** `2025-05-01T10:00:00.123Z` → `2025-05-01 10:00:00Z`. */
export function formatTime(iso: string | undefined): string | undefined {
  return iso?.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** `2×a10g`, or `4×h100 ×2 nodes` for a gang job; `cpu` when no GPUs are asked for. */
export function formatGpus(resources: JobView['resources']): string {
  const gpus = resources.gpus > 0 ? `${resources.gpus}×${resources.gpuType}` : 'cpu';
  return (resources.nodes ?? 1) > 1 ? `${gpus} ×${resources.nodes} nodes` : gpus;
}

export function formatMemory(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** `a10g 3/4, h100 0/2`: GPUs in use against quota for every type in either. */
export function formatUsage(
  inUse: Readonly<Record<string, number>>,
  quota: Readonly<Record<string, number>>,
): string {
  const types = [...new Set([...Object.keys(quota), ...Object.keys(inUse)])].sort();
  if (types.length === 0) return '-';
  return types.map((type) => `${type} ${inUse[type] ?? 0}/${quota[type] ?? '-'}`).join(', ');
}

/** The one-line "why" of a job: why it waits, or why it ended the way it did. */
export function jobNote(job: JobView): string {
  if (job.state === 'PENDING' && job.pendingReason) return job.pendingReason.message;
  if (job.stateReason) return job.stateReason;
  if (job.exitCode !== undefined) return `exit code ${job.exitCode}`;
  return '';
}
