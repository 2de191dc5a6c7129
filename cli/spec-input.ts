import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { fieldErrors, type JobSpecInput, jobSpecSchema } from '../jobs/spec';
import { SpecValidationError, UsageError } from './errors';
import { parseCount, parseDurationS, parseKeyValues, parseMemoryMiB } from './units';

/** The `submit` flags that set spec fields. */
export interface SpecFlags {
  readonly name?: string;
  readonly image?: string;
  readonly gpus?: string;
  readonly 'gpu-type'?: string;
  readonly cpus?: string;
  readonly memory?: string;
  readonly nodes?: string;
  readonly priority?: string;
  readonly preemptible?: boolean;
  readonly 'max-runtime'?: string;
  readonly retries?: string;
  readonly backend?: string;
  readonly env?: readonly string[];
  readonly tag?: readonly string[];
  readonly 'idempotency-key'?: string;
}

type SpecObject = Record<string, unknown>;

/** Reads a YAML or JSON spec file (YAML 1.2 parses JSON as well). */
export function readSpecFile(path: string): SpecObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${path} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  if (!isObject(document))
    throw new SpecValidationError([{ field: '(body)', reason: `${path} must hold a mapping` }]);
  return document;
}

/**
 * The spec as the user wrote it: the file (if any) with flags layered on top. Only fields the
 * user set are present, so the API applies its own defaults.
 */
export function buildSpecInput(
  file: SpecObject | undefined,
  flags: SpecFlags,
  command: readonly string[],
): SpecObject {
  const spec: SpecObject = { ...file };
  const set = (field: string, value: unknown) => {
    if (value !== undefined) spec[field] = value;
  };
  set('name', flags.name);
  set('image', flags.image);
  set('command', command.length > 0 ? [...command] : undefined);
  set('priorityClass', flags.priority);
  set('preemptible', flags.preemptible);
  set(
    'maxRuntimeS',
    flags['max-runtime'] === undefined ? undefined : parseDurationS('max-runtime', flags['max-runtime']),
  );
  set('retries', parseCount('retries', flags.retries));
  set('backend', flags.backend);
  set('idempotencyKey', flags['idempotency-key']);
  set('env', mergeRecord(spec.env, parseKeyValues('env', flags.env ?? [])));
  set('tags', mergeRecord(spec.tags, parseKeyValues('tag', flags.tag ?? [])));

  const resources = {
    gpus: parseNumber('gpus', flags.gpus),
    gpuType: flags['gpu-type'],
    cpus: parseNumber('cpus', flags.cpus),
    memoryMiB: flags.memory === undefined ? undefined : parseMemoryMiB(flags.memory),
    nodes: parseNumber('nodes', flags.nodes),
  };
  // Without a file, always send a resources object so each missing flag is reported on its
  // own (`resources.gpus`, `resources.gpuType`) rather than as one missing `resources` block.
  set('resources', mergeRecord(file === undefined ? {} : spec.resources, withoutUndefined(resources)));
  return spec;
}

/** Validates with the API's own schema; returns the input unchanged (the API fills defaults). */
export function validateSpec(spec: SpecObject): JobSpecInput {
  const result = jobSpecSchema.safeParse(spec);
  if (!result.success) throw new SpecValidationError(fieldErrors(result.error));
  return spec as JobSpecInput;
}

/** Flags such as `--gpus` and `--cpus`; range checks are the schema's job. */
function parseNumber(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new UsageError(`--${flag}: expected a number, got '${raw}'`);
  return value;
}

/** Flag entries win over the file's; a file value that is not a mapping is left for the schema to reject. */
function mergeRecord(base: unknown, overrides: SpecObject): unknown {
  if (Object.keys(overrides).length === 0) return base;
  return isObject(base) ? { ...base, ...overrides } : overrides;
}

function withoutUndefined(record: SpecObject): SpecObject {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function isObject(value: unknown): value is SpecObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
