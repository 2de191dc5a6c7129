import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Checks a request against an AWS service's published API model: the `service-2.json` that
 * botocore (pinned in spark/requirements.lock, installed in .venv) ships for every service.
 * It checks what the model states: required members, unknown members, types, enums, string
 * lengths, list and map sizes, numeric ranges and patterns. Rules the model cannot state
 * (one field constrained by another) live in backends/aws-request-rules.ts.
 */

interface ShapeRef {
  readonly shape: string;
}

interface Shape {
  readonly type: string;
  readonly required?: readonly string[];
  readonly members?: Readonly<Record<string, ShapeRef>>;
  readonly member?: ShapeRef;
  readonly key?: ShapeRef;
  readonly value?: ShapeRef;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
}

interface ServiceModel {
  readonly metadata: { readonly serviceId: string; readonly apiVersion: string };
  readonly operations: Readonly<Record<string, { readonly input?: ShapeRef }>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

const BOTOCORE_DATA = join(
  import.meta.dirname,
  '..',
  '..',
  '.venv',
  'lib',
  'python3.11',
  'site-packages',
  'botocore',
  'data',
);

const models = new Map<string, ServiceModel>();

/** The newest API version of a botocore service (`batch`, `sagemaker`). */
export function serviceModel(service: string): ServiceModel {
  let model = models.get(service);
  if (!model) {
    const dir = join(BOTOCORE_DATA, service);
    const version = readdirSync(dir).sort().at(-1);
    if (version === undefined) throw new Error(`botocore has no model for ${service}`);
    const files = readdirSync(join(dir, version));
    const file = files.includes('service-2.json') ? 'service-2.json' : 'service-2.json.gz';
    const raw = readFileSync(join(dir, version, file));
    model = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as ServiceModel;
    models.set(service, model);
  }
  return model;
}

/** Every way `input` breaks the model of `operation`, as `path: problem`; empty when valid. */
export function modelViolations(service: string, operation: string, input: unknown): string[] {
  const model = serviceModel(service);
  const ref = model.operations[operation]?.input;
  if (!ref) return [`${service} has no operation ${operation}`];
  const problems: string[] = [];
  check(model, ref.shape, input, operation, problems);
  return problems;
}

function check(model: ServiceModel, shapeName: string, value: unknown, path: string, out: string[]): void {
  const shape = model.shapes[shapeName];
  if (!shape) {
    out.push(`${path}: model has no shape ${shapeName}`);
    return;
  }
  switch (shape.type) {
    case 'structure':
      checkStructure(model, shape, value, path, out);
      return;
    case 'list':
      if (!Array.isArray(value)) {
        out.push(`${path}: expected a list (${shapeName})`);
        return;
      }
      size(shape, value.length, path, 'entries', out);
      for (const [i, item] of value.entries()) check(model, shape.member!.shape, item, `${path}[${i}]`, out);
      return;
    case 'map':
      if (!isRecord(value)) {
        out.push(`${path}: expected a map (${shapeName})`);
        return;
      }
      size(shape, Object.keys(value).length, path, 'entries', out);
      for (const [key, item] of Object.entries(value)) {
        check(model, shape.key!.shape, key, `${path} key ${JSON.stringify(key)}`, out);
        check(model, shape.value!.shape, item, `${path}.${key}`, out);
      }
      return;
    case 'string':
      if (typeof value !== 'string') {
        out.push(`${path}: expected a string (${shapeName})`);
        return;
      }
      if (shape.enum && !shape.enum.includes(value)) {
        out.push(`${path}: ${JSON.stringify(value)} is not one of ${shape.enum.join(', ')}`);
      }
      // Smithy lengths count Unicode code points.
      size(shape, [...value].length, path, 'characters', out);
      if (shape.pattern !== undefined && !patternOf(shape.pattern).test(value)) {
        out.push(`${path}: ${JSON.stringify(value.slice(0, 80))} does not match ${shape.pattern}`);
      }
      return;
    case 'integer':
    case 'long':
      if (!Number.isInteger(value)) {
        out.push(`${path}: expected an integer (${shapeName})`);
        return;
      }
      range(shape, value as number, path, out);
      return;
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        out.push(`${path}: expected a number (${shapeName})`);
        return;
      }
      range(shape, value, path, out);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(`${path}: expected a boolean (${shapeName})`);
      return;
    case 'timestamp':
      if (!(value instanceof Date) && typeof value !== 'number' && typeof value !== 'string')
        out.push(`${path}: expected a timestamp (${shapeName})`);
      return;
    default:
      return; // blob, document: anything the SDK can serialise
  }
}

function checkStructure(model: ServiceModel, shape: Shape, value: unknown, path: string, out: string[]) {
  if (!isRecord(value)) {
    out.push(`${path}: expected a structure`);
    return;
  }
  const members = shape.members ?? {};
  for (const required of shape.required ?? []) {
    if (value[required] === undefined) out.push(`${path}.${required}: required`);
  }
  for (const [name, item] of Object.entries(value)) {
    if (item === undefined) continue;
    const member = members[name];
    if (!member) out.push(`${path}.${name}: not a member of the request`);
    else check(model, member.shape, item, `${path}.${name}`, out);
  }
}

function size(shape: Shape, n: number, path: string, unit: string, out: string[]): void {
  if (shape.min !== undefined && n < shape.min) out.push(`${path}: ${n} ${unit}, at least ${shape.min}`);
  if (shape.max !== undefined && n > shape.max) out.push(`${path}: ${n} ${unit}, at most ${shape.max}`);
}

function range(shape: Shape, n: number, path: string, out: string[]): void {
  if (shape.min !== undefined && n < shape.min) out.push(`${path}: ${n} is below the minimum ${shape.min}`);
  if (shape.max !== undefined && n > shape.max) out.push(`${path}: ${n} is above the maximum ${shape.max}`);
}

const patterns = new Map<string, RegExp>();

/**
 * The services match a member's whole value against its pattern (their errors read "Member
 * must satisfy regular expression pattern: ..." for a value with one bad character), so the
 * pattern is anchored here. Most are ECMA-262 with Unicode classes; a few are Java-flavoured
 * (`\p{Alnum}`, escapes that `u` mode refuses).
 */
function patternOf(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    const ecma = `^(?:${pattern.replaceAll('\\p{Alnum}', 'A-Za-z0-9')})$`;
    try {
      regex = new RegExp(ecma, 'u');
    } catch {
      regex = new RegExp(ecma);
    }
    patterns.set(pattern, regex);
  }
  return regex;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
