import type { Dispatch, JobRecord } from '../../jobs/job';
import type { BackendSubmission } from '../../jobs/ports';
import { type JobSpecInput, jobSpecSchema } from '../../jobs/spec';

export const JOB_ID = '01jd5s7n0pabcdefghjkmn';

export interface SubmissionOverrides {
  readonly spec?: Partial<JobSpecInput>;
  readonly dispatch?: Partial<Dispatch>;
  readonly id?: string;
  readonly attempt?: number;
}

/** One attempt as the dispatcher hands it to a backend: a validated spec, attempt 1, `dt-<id>-1`. */
export function submission(overrides: SubmissionOverrides = {}): BackendSubmission {
  const id = overrides.id ?? JOB_ID;
  const attempt = overrides.attempt ?? 1;
  const spec = jobSpecSchema.parse({
    name: 'bev-fusion-train',
    image: '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4',
    command: ['python', 'train.py'],
    args: ['--epochs', '10'],
    env: { WANDB_MODE: 'offline' },
    resources: { gpus: 4, gpuType: 'a10g', cpus: 47.5, memoryMiB: 180_000 },
    priorityClass: 'standard',
    maxRuntimeS: 7_200,
    retries: 2,
    tags: { project: 'bev' },
    ...overrides.spec,
  });
  const dispatch: Dispatch = {
    backend: 'batch',
    pool: 'a10g-on-demand',
    capacityType: 'on-demand',
    nodes: Array.from({ length: spec.resources.nodes }, (_, i) => i),
    name: `dt-${id}-${attempt}`,
    ...overrides.dispatch,
  };
  const job: JobRecord = {
    id,
    team: 'perception',
    spec,
    state: 'DISPATCHED',
    attempt,
    submittedAt: '2026-11-25T10:00:00.000Z',
    updatedAt: '2026-11-25T10:00:01.000Z',
    dispatch,
    preemptions: 0,
    attainedGpuS: 0,
    specHash: 'f'.repeat(32),
    version: 2,
  };
  return { job, dispatch };
}
