import { z } from 'zod';
import { backendSpecProblems } from '../backends/spec-limits';
import type { EnvironmentConfig } from '../config/schema';
import { PRIORITY_CLASSES } from '../scheduler/priority-classes';
import { idempotentJobId, newJobId, specHash } from './ids';
import type { BackendKind, JobRecord } from './job';
import { JobNotFound, type JobPage, type JobStore, TransitionConflict } from './ports';
import { type FieldError, fieldErrors, type JobSpec, jobSpecSchema } from './spec';
import { isTerminal, JOB_STATES } from './states';

/** The request is wrong; each entry names a field and why. Maps to HTTP 400. */
export class ValidationFailed extends Error {
  constructor(readonly fields: FieldError[]) {
    super(fields.map((f) => `${f.field}: ${f.reason}`).join('; '));
    this.name = 'ValidationFailed';
  }
}

/** The idempotency key was used before with a different spec. Maps to HTTP 409. */
export class IdempotencyConflict extends Error {
  constructor(readonly jobId: string) {
    super(`idempotencyKey was already used for job ${jobId} with a different spec`);
    this.name = 'IdempotencyConflict';
  }
}

/** A cancel raced with a state change that made it impossible (e.g. the job finished). Maps to 409. */
export class NotCancellable extends Error {
  constructor(readonly job: JobRecord) {
    super(`job ${job.id} is ${job.state} and can no longer be cancelled`);
    this.name = 'NotCancellable';
  }
}

export const listQuerySchema = z
  .object({
    state: z.enum(JOB_STATES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
    nextToken: z.string().min(1).max(2048).optional(),
  })
  .strict();

export interface JobServiceOptions {
  readonly store: JobStore;
  readonly environment: EnvironmentConfig;
  /** Backends this runtime runs jobs on; a spec naming another is refused. Unchecked when absent. */
  readonly backends?: readonly BackendKind[];
  readonly clock?: () => Date;
  /** Called after a job is created, e.g. to wake the dispatcher. */
  readonly onSubmitted?: (job: JobRecord) => void | Promise<void>;
  /** Called after a running job is marked for cancelling: the dispatcher must stop it. */
  readonly onCancelRequested?: (job: JobRecord) => void | Promise<void>;
}

/** The job API's behaviour, independent of HTTP and of where it runs. */
export class JobService {
  private readonly clock: () => Date;

  constructor(private readonly options: JobServiceOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async submit(team: string, body: unknown): Promise<{ job: JobRecord; created: boolean }> {
    const parsed = jobSpecSchema.safeParse(body);
    if (!parsed.success) throw new ValidationFailed(fieldErrors(parsed.error));
    const spec = parsed.data;
    const problems = this.checkAgainstEnvironment(team, spec);
    if (problems.length > 0) throw new ValidationFailed(problems);

    const now = this.clock();
    const hash = specHash(spec);
    const id = spec.idempotencyKey ? idempotentJobId(team, spec.idempotencyKey) : newJobId(now);
    const { job, created } = await this.options.store.create({
      id,
      team,
      spec,
      state: 'PENDING',
      attempt: 0,
      submittedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      preemptions: 0,
      attainedGpuS: 0,
      specHash: hash,
      version: 1,
      pendingReason: { code: 'queued', message: 'queued; the dispatcher has not placed or explained it yet' },
    });
    if (!created && job.specHash !== hash) throw new IdempotencyConflict(job.id);
    if (created) await this.options.onSubmitted?.(job);
    return { job, created };
  }

  /** A job of the caller's team; other teams' jobs are reported as absent, not forbidden. */
  async get(team: string, id: string): Promise<JobRecord> {
    if (!/^[a-z0-9]{1,64}$/.test(id)) throw new ValidationFailed([{ field: 'id', reason: 'not a job id' }]);
    const job = await this.options.store.get(id);
    if (!job || job.team !== team) throw new JobNotFound(id);
    return job;
  }

  async list(team: string, query: unknown): Promise<JobPage> {
    const parsed = listQuerySchema.safeParse(query);
    if (!parsed.success) throw new ValidationFailed(fieldErrors(parsed.error));
    return this.options.store.listByTeam({ team, ...parsed.data });
  }

  /**
   * Cancels a job. A job that holds no capacity is cancelled at once; one that was
   * dispatched is marked, and the dispatcher stops it on its backend and finishes the cancel.
   */
  async cancel(team: string, id: string): Promise<JobRecord> {
    for (let tries = 0; ; tries++) {
      const job = await this.get(team, id);
      if (isTerminal(job.state)) {
        if (job.state === 'CANCELLED') return job;
        throw new NotCancellable(job);
      }
      try {
        if (job.state === 'PENDING' || job.state === 'PREEMPTED') {
          // At the version read: if the dispatcher claimed the job meanwhile, this write loses
          // and the next try takes the cancelRequested path, so the backend job is stopped.
          return await this.options.store.transition(
            job,
            'CANCELLED',
            {
              endedAt: this.clock().toISOString(),
              stateReason: 'cancelled by user',
              pendingReason: undefined,
            },
            job.version,
          );
        }
        const marked = await this.options.store.update(job, { cancelRequested: true }, job.version);
        await this.options.onCancelRequested?.(marked);
        return marked;
      } catch (error) {
        // The dispatcher moved the job meanwhile: look again.
        if (!(error instanceof TransitionConflict) || tries >= 5) throw error;
      }
    }
  }

  /** What the environment can run: the fleet exists, the gang fits, the class is allowed. */
  private checkAgainstEnvironment(team: string, spec: JobSpec): FieldError[] {
    const { environment } = this.options;
    const problems: FieldError[] = [];
    const teamConfig = environment.teams.find((t) => t.name === team);
    if (!teamConfig) return [{ field: 'team', reason: `unknown team ${team}` }];
    if (!teamConfig.priorityClasses.includes(spec.priorityClass)) {
      problems.push({
        field: 'priorityClass',
        reason: `team ${team} may use ${teamConfig.priorityClasses.join(', ')}`,
      });
    }
    const { resources } = spec;
    if (resources.gpus > 0) {
      const fleet = environment.gpuFleets.find((f) => f.gpuType === resources.gpuType);
      if (!fleet) {
        problems.push({
          field: 'resources.gpuType',
          reason: `no ${resources.gpuType} fleet; available: ${environment.gpuFleets.map((f) => f.gpuType).join(', ')}`,
        });
      } else {
        if (resources.gpus > fleet.gpusPerInstance) {
          problems.push({
            field: 'resources.gpus',
            reason: `at most ${fleet.gpusPerInstance} per node on ${fleet.name}`,
          });
        }
        if (resources.memoryMiB > fleet.instanceMemoryGiB * 1024) {
          problems.push({
            field: 'resources.memoryMiB',
            reason: `at most ${fleet.instanceMemoryGiB * 1024} per node on ${fleet.name}`,
          });
        }
        if (resources.nodes > 1 && !fleet.multiNode) {
          problems.push({
            field: 'resources.nodes',
            reason: `${fleet.name} has no multi-node (EFA) capacity`,
          });
        } else if (fleet.multiNode && resources.nodes > fleet.multiNode.maxNodes) {
          problems.push({
            field: 'resources.nodes',
            reason: `at most ${fleet.multiNode.maxNodes} nodes on ${fleet.name}`,
          });
        }
      }
    } else if (resources.nodes > 1) {
      problems.push({ field: 'resources.nodes', reason: 'multi-node jobs need GPUs (EFA fleets)' });
    }
    const { backends } = this.options;
    if (backends && spec.backend !== 'auto' && !backends.includes(spec.backend)) {
      problems.push({
        field: 'backend',
        reason: `no ${spec.backend} backend in this environment; use one of: ${[...backends, 'auto'].join(', ')}`,
      });
    }
    const preemptible = spec.preemptible ?? PRIORITY_CLASSES[spec.priorityClass].preemptible;
    if (PRIORITY_CLASSES[spec.priorityClass].preemptible && !preemptible) {
      problems.push({ field: 'preemptible', reason: 'the preemptible class is always preemptible' });
    }
    // What the backends the job may land on accept (Batch, SageMaker and Kubernetes limits).
    problems.push(...backendSpecProblems(spec, environment));
    return problems;
  }
}
