import type { JobView } from '../../cli/api-types';
import type { CliIo } from '../../cli/io';
import { main } from '../../cli/main';

export const NOW = new Date('2025-05-01T10:00:00.000Z');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** How many times the CLI paused between polls. */
  readonly sleeps: number;
}

/** Runs the real `main` in-process with captured output, a fixed clock and instant sleeps. */
export async function runCli(argv: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let sleeps = 0;
  const io: CliIo = {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    env,
    now: () => NOW,
    sleep: async () => {
      sleeps += 1;
    },
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n'), sleeps };
}

/** A JobView as the API returns it, PENDING by default. */
export function jobView(overrides: Partial<JobView> = {}): JobView {
  const resources = { gpus: 2, gpuType: 'a10g', cpus: 8, memoryMiB: 32_768, nodes: 1 };
  return {
    id: 'job-1',
    team: 'perception',
    name: 'bev-fusion-train',
    state: 'PENDING',
    priorityClass: 'standard',
    preemptible: false,
    resources,
    backend: 'auto',
    attempt: 0,
    submittedAt: '2025-05-01T09:55:00.000Z',
    updatedAt: '2025-05-01T09:55:00.000Z',
    preemptions: 0,
    spec: {
      name: 'bev-fusion-train',
      image: 'drivetrain/perception:1.4',
      command: ['python', 'train.py'],
      args: [],
      env: {},
      resources,
      priorityClass: 'standard',
      maxRuntimeS: 86_400,
      retries: 2,
      backend: 'auto',
      tags: {},
    },
    ...overrides,
  };
}
