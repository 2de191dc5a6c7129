import type { Template } from 'aws-cdk-lib/assertions';

/**
 * A small IAM policy evaluator over synthesized templates, for isolation tests: does a
 * principal's identity policy allow a request? It follows the IAM evaluation logic for
 * identity policies in one account (an explicit Deny wins, then any Allow, else implicit
 * deny; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
 * with wildcard actions and resources, and the condition operators Drivetrain's policies use.
 */

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request; a list for multivalued keys. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

export function evaluate(statements: readonly Statement[], request: Request): Decision {
  const matching = statements.filter((s) => applies(s, request));
  if (matching.some((s) => s.Effect === 'Deny')) return 'explicit-deny';
  return matching.some((s) => s.Effect === 'Allow') ? 'allow' : 'implicit-deny';
}

const list = <T>(value: T | readonly T[]): readonly T[] => (Array.isArray(value) ? value : [value as T]);

function applies(statement: Statement, request: Request): boolean {
  return (
    list(statement.Action).some((a) => wildcard(a, request.action, true)) &&
    list(statement.Resource).some((r) => wildcard(r, request.resource, false)) &&
    Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, expected]) =>
        condition(operator, request.context?.[key], list(expected)),
      ),
    )
  );
}

/** IAM globs: `*` any run of characters, `?` one; actions compare case-insensitively. */
export function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${regex}$`, ignoreCase ? 'i' : '').test(value);
}

function condition(
  operator: string,
  actual: string | readonly string[] | undefined,
  expected: readonly string[],
) {
  const [qualifier, base] = operator.includes(':') ? operator.split(':') : [undefined, operator];
  const ifExists = base!.endsWith('IfExists');
  const name = ifExists ? base!.slice(0, -'IfExists'.length) : base!;
  if (name === 'Null') return expected.includes(String(actual === undefined));
  // A missing key satisfies ...IfExists and ForAllValues (vacuously), nothing else.
  if (actual === undefined) return ifExists || qualifier === 'ForAllValues';
  const positive = name.replace('Not', '');
  const test = comparator(positive);
  const hit = (value: string) => expected.some((e) => test(e, value)) !== (positive !== name);
  const values = list(actual);
  if (qualifier === 'ForAllValues') return values.every(hit);
  if (qualifier === 'ForAnyValue') return values.some(hit);
  return positive !== name ? values.every(hit) : values.some(hit);
}

function comparator(name: string): (expected: string, actual: string) => boolean {
  switch (name) {
    case 'StringEquals':
    case 'ArnEquals':
    case 'Bool':
      return (e, a) => e === a;
    case 'StringEqualsIgnoreCase':
      return (e, a) => e.toLowerCase() === a.toLowerCase();
    case 'StringLike':
    case 'ArnLike':
      return (e, a) => wildcard(e, a, false);
    default:
      throw new Error(`condition operator ${name} is not modelled`);
  }
}

/** Resolves the intrinsics of a template's policy documents to the strings CloudFormation would make. */
export interface Resolution {
  readonly account: string;
  readonly region: string;
}

export function resolve(value: unknown, at: Resolution): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, at));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [[fn, args]] = entries as [[string, unknown]];
    if (fn === 'Ref') {
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': at.region,
        'AWS::AccountId': at.account,
        'AWS::URLSuffix': 'amazonaws.com',
      };
      return pseudo[String(args)] ?? `ref:${String(args)}`;
    }
    if (fn === 'Fn::Join') {
      const [separator, parts] = args as [string, unknown[]];
      return parts.map((p) => String(resolve(p, at))).join(separator);
    }
    if (fn === 'Fn::GetAtt') return `getatt:${(args as string[]).join('.')}`;
    if (fn === 'Fn::ImportValue') return `import:${String(resolve(args, at))}`;
    if (fn.startsWith('Fn::')) return `${fn}:${JSON.stringify(args)}`;
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, at)]));
}

/** Every statement of the identity policies (managed and inline) attached to a role of the template. */
export function statementsOfRole(template: Template, roleLogicalId: string, at: Resolution): Statement[] {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const attachedToRole = (roles: unknown) =>
    Array.isArray(roles) && roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }));
  const documents: unknown[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type === 'AWS::IAM::ManagedPolicy' && attachedToRole(resource.Properties.Roles)) {
      documents.push(resource.Properties.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Policy' && attachedToRole(resource.Properties.Roles)) {
      documents.push(resource.Properties.PolicyDocument);
    }
  }
  const role = resources[roleLogicalId];
  for (const inline of (role?.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
    documents.push(inline.PolicyDocument);
  }
  return documents.flatMap((d) => (resolve(d, at) as { Statement: Statement[] }).Statement);
}
