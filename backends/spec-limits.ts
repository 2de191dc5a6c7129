import { type CapacityPool, capacityPools, type PoolBackend } from '../config/capacity';
import type { EnvironmentConfig } from '../config/schema';
import type { JobRecord } from '../jobs/job';
import type { FieldError, JobSpec } from '../jobs/spec';
import { attemptEnvironment, fleetOf } from './attempt';
import { IMAGE_REFERENCE } from './aws-request-rules';
import { rayJobManifest } from './ray-job';

/**
 * What each backend can accept of a job spec, checked at submit so that a spec no backend
 * could run gets a 400 naming the field instead of failing every dispatch. The limits are the
 * services' own (each cited). A job that names its backend must suit that backend; one with
 * `backend: auto` must suit at least one backend with capacity for it (acceptingBackends says
 * which, so placement can keep it off the others).
 */

const SAGEMAKER_API = 'https://docs.aws.amazon.com/sagemaker/latest/APIReference';
const BATCH_API = 'https://docs.aws.amazon.com/batch/latest/APIReference';

/** CreateTrainingJob: Environment map of at most 100 entries, values of at most 512 characters. */
const SAGEMAKER_MAX_VARIABLES = 100;
const SAGEMAKER_MAX_VARIABLE_CHARS = 512;
/** AlgorithmSpecification: ContainerEntrypoint and ContainerArguments of at most 100 strings of 256 characters. */
const SAGEMAKER_MAX_ARGV = 100;
const SAGEMAKER_MAX_ARG_CHARS = 256;
/** AlgorithmSpecification.TrainingImage and Batch ContainerProperties.image: at most 255 characters. */
const MAX_IMAGE_CHARS = 255;
/** Batch image characters (ContainerProperties.image), plus `@` of digest references. */
const BATCH_IMAGE_CHARACTERS = /^[A-Za-z0-9\-_:./#@]+$/;
/** Tag characters AWS accepts (tag editor best practices), for job tags on Batch and SageMaker. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/**
 * The Kubernetes API server refuses objects larger than etcd's request limit, 1.5 MiB by
 * default (https://etcd.io/docs/v3.5/dev-guide/limit/); a RayJob repeats the environment
 * in every pod template.
 */
const KUBERNETES_MAX_OBJECT_BYTES = 1_500_000;

/** Backends that have a pool this spec fits: its GPU type and its shape (gang or single node). */
export function candidateBackends(spec: JobSpec, pools: readonly CapacityPool[]): PoolBackend[] {
  const gang = spec.resources.nodes > 1;
  const fits = pools.filter(
    (p) =>
      p.gpuType === fleetOf(spec) &&
      (p.jobShapes === 'any' || p.jobShapes === (gang ? 'multi-node' : 'single-node')) &&
      p.node.gpus >= spec.resources.gpus &&
      p.node.cpus >= spec.resources.cpus &&
      p.node.memoryMiB >= spec.resources.memoryMiB,
  );
  return [...new Set(fits.map((p) => p.backend))];
}

export function backendSpecProblems(spec: JobSpec, environment: EnvironmentConfig): FieldError[] {
  // `local` runs processes on this machine: no service limits apply.
  if (spec.backend === 'local') return [];
  const candidates = candidateBackends(spec, capacityPools(environment));
  if (spec.backend !== 'auto') {
    if (!candidates.includes(spec.backend)) {
      const shape = spec.resources.nodes > 1 ? `${spec.resources.nodes}-node gang` : 'node';
      return [
        {
          field: 'backend',
          reason: `${spec.backend} has no ${fleetOf(spec)} capacity that holds this ${shape}${candidates.length > 0 ? `; ${candidates.join(', ')} would` : ''}`,
        },
      ];
    }
    return limitsOf(spec.backend, spec);
  }
  const problems = candidates.map((backend) => limitsOf(backend, spec));
  if (problems.length === 0 || problems.some((p) => p.length === 0)) return [];
  return candidates.flatMap((backend, i) =>
    problems[i]!.map((e) => ({ ...e, reason: `${e.reason} (on ${backend})` })),
  );
}

/** The backends with capacity for the spec that would also accept it. */
export function acceptingBackends(spec: JobSpec, environment: EnvironmentConfig): PoolBackend[] {
  return candidateBackends(spec, capacityPools(environment)).filter((b) => limitsOf(b, spec).length === 0);
}

function limitsOf(backend: PoolBackend, spec: JobSpec): FieldError[] {
  switch (backend) {
    case 'batch':
      return [...batchProblems(spec), ...tagProblems(spec)];
    case 'sagemaker':
      return [...sageMakerProblems(spec), ...tagProblems(spec)];
    case 'eks':
      return eksProblems(spec);
  }
}

function batchProblems(spec: JobSpec): FieldError[] {
  const problems: FieldError[] = [];
  if (spec.image.length > MAX_IMAGE_CHARS || !BATCH_IMAGE_CHARACTERS.test(spec.image)) {
    problems.push({
      field: 'image',
      reason: `Batch takes up to ${MAX_IMAGE_CHARS} letters, digits and - _ : . / # @ (${BATCH_API}/API_ContainerProperties.html)`,
    });
  }
  for (const name of Object.keys(spec.env)) {
    if (name.startsWith('AWS_BATCH')) {
      problems.push({
        field: `env.${name}`,
        reason: `names starting with AWS_BATCH are reserved for Batch (${BATCH_API}/API_ContainerOverrides.html)`,
      });
    }
  }
  return problems;
}

function sageMakerProblems(spec: JobSpec): FieldError[] {
  const problems: FieldError[] = [];
  if (spec.image.length > MAX_IMAGE_CHARS || !IMAGE_REFERENCE.test(spec.image)) {
    problems.push({
      field: 'image',
      reason: `SageMaker takes registry/repository[:tag] or registry/repository@digest, up to ${MAX_IMAGE_CHARS} characters (${SAGEMAKER_API}/API_AlgorithmSpecification.html)`,
    });
  }
  const variables = Object.keys(attemptEnvironment(platformView(spec))).length;
  if (variables > SAGEMAKER_MAX_VARIABLES) {
    const own = variables - Object.keys(spec.env).length;
    problems.push({
      field: 'env',
      reason: `SageMaker takes at most ${SAGEMAKER_MAX_VARIABLES} variables and the platform sets ${own}: at most ${SAGEMAKER_MAX_VARIABLES - own} of your own (${SAGEMAKER_API}/API_CreateTrainingJob.html)`,
    });
  }
  for (const [name, value] of Object.entries(spec.env)) {
    if (value.length > SAGEMAKER_MAX_VARIABLE_CHARS) {
      problems.push({
        field: `env.${name}`,
        reason: `SageMaker takes values of at most ${SAGEMAKER_MAX_VARIABLE_CHARS} characters`,
      });
    }
  }
  for (const field of ['command', 'args'] as const) {
    const argv = spec[field];
    if (argv.length > SAGEMAKER_MAX_ARGV || argv.some((a) => a.length > SAGEMAKER_MAX_ARG_CHARS)) {
      problems.push({
        field,
        reason: `SageMaker takes at most ${SAGEMAKER_MAX_ARGV} entries of ${SAGEMAKER_MAX_ARG_CHARS} characters (${SAGEMAKER_API}/API_AlgorithmSpecification.html)`,
      });
    }
  }
  return problems;
}

function eksProblems(spec: JobSpec): FieldError[] {
  const job = platformView(spec);
  const dispatch = {
    backend: 'eks' as const,
    pool: 'eks',
    capacityType: 'on-demand' as const,
    nodes: [],
    name: 'dt-0-1',
  };
  const bytes = Buffer.byteLength(JSON.stringify(rayJobManifest({ job, dispatch })));
  return bytes > KUBERNETES_MAX_OBJECT_BYTES
    ? [
        {
          field: 'env',
          reason: `the RayJob would be ${bytes} bytes, past the Kubernetes API's ${KUBERNETES_MAX_OBJECT_BYTES}`,
        },
      ]
    : [];
}

function tagProblems(spec: JobSpec): FieldError[] {
  return Object.entries(spec.tags)
    .filter(([key, value]) => !TAG_CHARACTERS.test(key) || !TAG_CHARACTERS.test(value))
    .map(([key]) => ({
      field: `tags.${key}`,
      reason: 'AWS tags take letters, digits, spaces and _ . : / = + - @',
    }));
}

/** The spec as an attempt would carry it, to count what the platform adds. */
function platformView(spec: JobSpec): JobRecord {
  return {
    id: '0'.repeat(26),
    team: 'team',
    spec,
    state: 'DISPATCHED',
    attempt: 1,
    submittedAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    preemptions: 0,
    attainedGpuS: 0,
    specHash: '',
    version: 1,
  };
}
