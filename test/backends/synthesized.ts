import type { JobDefinition } from '@aws-sdk/client-batch';
import type { EnvironmentName } from '../../config/schema';
import { computeTemplate } from '../lib/app-fixture';

/**
 * The Batch job definitions the CDK app really synthesizes, as DescribeJobDefinitions would
 * return them once deployed: CloudFormation's PascalCase properties in the API's camelCase,
 * with references resolved to plausible ARNs. Backend tests describe these, not hand-made ones.
 */
export function synthesizedJobDefinitions(env: EnvironmentName = 'dev'): JobDefinition[] {
  const resources = computeTemplate(env).findResources('AWS::Batch::JobDefinition');
  return Object.values(resources).map(
    (resource) =>
      ({
        ...(toApi((resource as { Properties: Record<string, unknown> }).Properties) as JobDefinition),
        revision: 1,
        status: 'ACTIVE',
      }) as JobDefinition,
  );
}

/** Members whose keys are data (tag names, log options, parameters), not property names. */
const MAPS = new Set(['Tags', 'Options', 'Parameters']);

function toApi(value: unknown, isMap = false): unknown {
  if (Array.isArray(value)) return value.map((v) => toApi(v));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::')))
    return intrinsic(first);
  return Object.fromEntries(
    entries.map(([key, v]) => [isMap ? key : key[0]!.toLowerCase() + key.slice(1), toApi(v, MAPS.has(key))]),
  );
}

/** A deployed value for a reference: role ARNs for GetAtt .Arn, the logical id otherwise. */
function intrinsic([fn, args]: [string, unknown]): string {
  if (fn === 'Fn::GetAtt' && Array.isArray(args) && args[1] === 'Arn') {
    return `arn:aws:iam::111111111111:role/${String(args[0])}`;
  }
  if (fn === 'Fn::Join' && Array.isArray(args)) {
    const [separator, parts] = args as [string, unknown[]];
    return parts
      .map((p) =>
        typeof p === 'string' ? p : intrinsic(Object.entries(p as object)[0] as [string, unknown]),
      )
      .join(separator);
  }
  return Array.isArray(args) ? String(args[0]) : String(args);
}
