import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { PRIORITY_CLASS_NAMES, type PriorityClassName } from '../scheduler/priority-classes';

extendZodWithOpenApi(z);

/**
 * The job spec: the one source of truth for API validation (handler and API Gateway request
 * models), the OpenAPI document, the CLI and the TypeScript types.
 */

const label = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where a job may ask to run; `local` exists only in the local runtime, `auto` lets the platform choose. */
export const BACKENDS = ['batch', 'eks', 'sagemaker', 'local', 'auto'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export const resourcesSchema = z
  .object({
    gpus: z.number().int().min(0).max(16).openapi({ description: 'GPUs per node', example: 1 }),
    gpuType: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,22}$/, 'a GPU type such as a10g, a100 or h100')
      .optional()
      .openapi({
        description: "GPU model, one of the environment's fleets; required when gpus > 0",
        example: 'a10g',
      }),
    cpus: z
      .number()
      .min(0.25)
      .max(192)
      .multipleOf(0.25)
      .openapi({ description: 'vCPUs per node, in quarters', example: 8 }),
    memoryMiB: z
      .number()
      .int()
      .min(128)
      .max(2_097_152)
      .openapi({ description: 'Memory per node in MiB', example: 32_768 }),
    nodes: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(1)
      .openapi({ description: 'Node count; more than 1 makes a gang (multi-node) job, started all at once' }),
  })
  .strict()
  .superRefine((resources, ctx) => {
    if (resources.gpus > 0 && resources.gpuType === undefined) {
      ctx.addIssue({ code: 'custom', path: ['gpuType'], message: 'required when gpus > 0' });
    }
  })
  .openapi('Resources');

export const jobSpecSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(label, 'letters, digits, dot, dash and underscore')
      .openapi({ example: 'bev-fusion-train' }),
    image: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[^\s]+$/, 'a container image reference without spaces')
      .openapi({ example: '123456789012.dkr.ecr.us-west-2.amazonaws.com/drivetrain/perception:1.4' }),
    command: z
      .array(z.string().max(4096))
      .min(1)
      .max(256)
      .openapi({ example: ['python', 'train.py'] }),
    args: z.array(z.string().max(4096)).max(256).default([]),
    env: z
      .record(z.string().regex(envName, 'an environment variable name').max(256), z.string().max(32_768))
      .default({})
      .refine((env) => Object.keys(env).length <= 100, 'at most 100 variables'),
    resources: resourcesSchema,
    priorityClass: z
      .enum(PRIORITY_CLASS_NAMES as [PriorityClassName, ...PriorityClassName[]])
      .default('standard')
      .openapi({ description: 'critical and standard are never preempted; preemptible work may be' }),
    preemptible: z.boolean().optional().openapi({
      description: 'Opt in to preemption (and spot capacity); always true for the preemptible class',
    }),
    maxRuntimeS: z
      .number()
      .int()
      .min(60)
      .max(14 * 24 * 3600)
      .default(24 * 3600)
      .openapi({ description: 'Hard runtime limit in seconds; the job is stopped when it is reached' }),
    retries: z.number().int().min(0).max(10).default(2).openapi({
      description: 'Retries after infrastructure failures (host loss); application errors are not retried',
    }),
    backend: z.enum(BACKENDS).default('auto'),
    tags: z
      .record(
        z.string().min(1).max(128).regex(label, 'letters, digits, dot, dash and underscore'),
        z.string().max(256),
      )
      .default({})
      .refine((tags) => Object.keys(tags).length <= 50, 'at most 50 tags'),
    idempotencyKey: z
      .string()
      .min(1)
      .max(128)
      .regex(label, 'letters, digits, dot, dash and underscore')
      .optional()
      .openapi({ description: 'Submitting again with the same key returns the same job' }),
  })
  .strict()
  .openapi('JobSpec');

/** What a client sends (defaults not yet applied). */
export type JobSpecInput = z.input<typeof jobSpecSchema>;
/** A validated spec with every default filled in. */
export type JobSpec = z.output<typeof jobSpecSchema>;

/** A field-level validation problem, as the API returns it. */
export interface FieldError {
  /** Dotted path, e.g. `resources.gpus`; `(body)` for the whole document. */
  readonly field: string;
  readonly reason: string;
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)',
    reason: issue.message,
  }));
}
