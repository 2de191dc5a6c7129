/**
 * The parts of Karpenter's v1 CRD schemas (aws/karpenter-provider-aws v1.14.1,
 * pkg/apis/crds/karpenter.sh_nodepools.yaml and karpenter.k8s.aws_ec2nodeclasses.yaml) that
 * Drivetrain's NodePools and EC2NodeClasses use: structure, required fields, enums, patterns,
 * bounds, and the x-kubernetes-validations (CEL) rules on them, written as checks. Fields
 * outside this subset are reported, so a typo or a field the CRD lacks cannot pass.
 */

type Schema =
  | {
      readonly type: 'object';
      readonly properties?: Record<string, Schema>;
      readonly required?: readonly string[];
      readonly map?: Schema;
      readonly rules?: readonly Rule[];
    }
  | {
      readonly type: 'array';
      readonly items: Schema;
      readonly maxItems?: number;
      readonly minItems?: number;
      readonly rules?: readonly Rule[];
    }
  | {
      readonly type: 'string';
      readonly enum?: readonly string[];
      readonly pattern?: RegExp;
      readonly maxLength?: number;
      readonly rules?: readonly Rule[];
    }
  | { readonly type: 'integer'; readonly minimum?: number; readonly maximum?: number }
  | { readonly type: 'boolean' };

interface Rule {
  readonly message: string;
  readonly holds: (value: never) => boolean;
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DURATION_OR_NEVER = /^(([0-9]+(s|m|h))+|Never)$/;
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
const RESTRICTED_KEY: Rule = {
  message:
    'label domain karpenter.sh is restricted (except capacity-type), as are karpenter.sh/nodepool and kubernetes.io/hostname',
  holds: (key: string) =>
    key !== 'karpenter.sh/nodepool' &&
    key !== 'kubernetes.io/hostname' &&
    (key === 'karpenter.sh/capacity-type' || !(key.split('/')[0] ?? '').endsWith('karpenter.sh')),
};

const str = (extra: Omit<Extract<Schema, { type: 'string' }>, 'type'> = {}): Schema => ({
  type: 'string',
  ...extra,
});
const obj = (properties: Record<string, Schema>, required: string[] = [], rules: Rule[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  rules,
});
const map = (value: Schema, rules: Rule[] = []): Schema => ({ type: 'object', map: value, rules });
const taint = obj(
  {
    key: str({ pattern: LABEL_KEY }),
    value: str({ pattern: LABEL_KEY }),
    effect: str({ enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] }),
  },
  ['effect', 'key'],
);

export const NODE_POOL: Schema = obj(
  {
    apiVersion: str({ enum: ['karpenter.sh/v1'] }),
    kind: str({ enum: ['NodePool'] }),
    metadata: obj({ name: str({ pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, maxLength: 63 }) }, ['name']),
    spec: obj(
      {
        template: obj(
          {
            metadata: obj({
              labels: map(str({ pattern: LABEL_VALUE, maxLength: 63 }), [
                {
                  message: RESTRICTED_KEY.message,
                  holds: (labels: Record<string, string>) =>
                    Object.keys(labels).every((k) => RESTRICTED_KEY.holds(k as never)),
                },
              ]),
              annotations: map(str()),
            }),
            spec: obj(
              {
                nodeClassRef: obj({ group: str({ pattern: /^[^/]*$/ }), kind: str(), name: str() }, [
                  'group',
                  'kind',
                  'name',
                ]),
                requirements: {
                  type: 'array',
                  maxItems: 100,
                  items: obj(
                    {
                      key: str({ pattern: LABEL_KEY, maxLength: 316, rules: [RESTRICTED_KEY] }),
                      operator: str({
                        enum: ['Gte', 'Lte', 'In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'],
                      }),
                      values: { type: 'array', items: str({ pattern: LABEL_VALUE, maxLength: 63 }) },
                      minValues: { type: 'integer', minimum: 1, maximum: 50 },
                    },
                    ['key', 'operator'],
                  ),
                  rules: [
                    {
                      message: 'requirements with operator In must have a value defined',
                      holds: (rs: { operator: string; values?: string[] }[]) =>
                        rs.every((r) => r.operator !== 'In' || (r.values ?? []).length > 0),
                    },
                  ],
                },
                taints: { type: 'array', items: taint },
                startupTaints: { type: 'array', items: taint },
                expireAfter: str({ pattern: DURATION_OR_NEVER }),
                terminationGracePeriod: str({ pattern: /^([0-9]+(s|m|h))+$/ }),
              },
              ['nodeClassRef', 'requirements'],
            ),
          },
          ['spec'],
        ),
        limits: map(str({ pattern: QUANTITY })),
        weight: { type: 'integer', minimum: 1, maximum: 100 },
        disruption: obj(
          {
            consolidationPolicy: str({ enum: ['WhenEmpty', 'WhenEmptyOrUnderutilized', 'Balanced'] }),
            consolidateAfter: str({ pattern: DURATION_OR_NEVER }),
            budgets: {
              type: 'array',
              maxItems: 50,
              items: obj(
                {
                  nodes: str({ pattern: /^((100|[0-9]{1,2})%|[0-9]+)$/ }),
                  schedule: str(),
                  duration: str({ pattern: /^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$/ }),
                  reasons: {
                    type: 'array',
                    maxItems: 50,
                    items: str({ enum: ['Underutilized', 'Empty', 'Drifted'] }),
                  },
                },
                ['nodes'],
              ),
              rules: [
                {
                  message: 'schedule and duration come together',
                  holds: (bs: { schedule?: string; duration?: string }[]) =>
                    bs.every((b) => (b.schedule === undefined) === (b.duration === undefined)),
                },
              ],
            },
          },
          ['consolidateAfter'],
        ),
      },
      ['template'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

const selectorTerms = (idPattern: RegExp): Schema => ({
  type: 'array',
  maxItems: 30,
  items: obj({ id: str({ pattern: idPattern }), tags: map(str()) }),
  rules: [
    { message: 'expected at least one term', holds: (ts: unknown[]) => ts.length > 0 },
    {
      message: "'id' is mutually exclusive, cannot be set with a combination of other fields",
      holds: (ts: { id?: string; tags?: unknown }[]) => ts.every((t) => !(t.id && t.tags)),
    },
  ],
});

export const EC2_NODE_CLASS: Schema = obj(
  {
    apiVersion: str({ enum: ['karpenter.k8s.aws/v1'] }),
    kind: str({ enum: ['EC2NodeClass'] }),
    metadata: obj({ name: str({ pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/ }) }, ['name']),
    spec: obj(
      {
        role: str({ rules: [{ message: 'role cannot be empty', holds: (r: string) => r !== '' }] }),
        amiSelectorTerms: {
          type: 'array',
          minItems: 1,
          maxItems: 30,
          items: obj({
            alias: str({
              maxLength: 30,
              rules: [
                {
                  message: "'alias' is improperly formatted, must match the format 'family@version'",
                  holds: (a: string) => /^[a-zA-Z0-9]+@.+$/.test(a),
                },
                {
                  message: 'family is not supported',
                  holds: (a: string) =>
                    ['al2', 'al2023', 'bottlerocket', 'windows2019', 'windows2022', 'windows2025'].includes(
                      a.split('@')[0]!,
                    ),
                },
              ],
            }),
            id: str({ pattern: /ami-[0-9a-z]+/ }),
          }),
          rules: [
            {
              message:
                "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
              holds: (ts: { alias?: string }[]) => !ts.some((t) => t.alias) || ts.length === 1,
            },
          ],
        },
        subnetSelectorTerms: selectorTerms(/subnet-[0-9a-z]+/),
        securityGroupSelectorTerms: selectorTerms(/sg-[0-9a-z]+/),
        metadataOptions: obj({
          httpEndpoint: str({ enum: ['enabled', 'disabled'] }),
          httpProtocolIPv6: str({ enum: ['enabled', 'disabled'] }),
          httpPutResponseHopLimit: { type: 'integer', minimum: 1, maximum: 64 },
          httpTokens: str({ enum: ['required', 'optional'] }),
        }),
        blockDeviceMappings: {
          type: 'array',
          maxItems: 50,
          items: obj({
            deviceName: str(),
            rootVolume: { type: 'boolean' },
            ebs: obj(
              {
                volumeSize: str({
                  pattern:
                    /^((?:[1-9][0-9]{0,3}|[1-4][0-9]{4}|[5][0-8][0-9]{3}|59000)Gi|(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|[6][0-3][0-9]{3}|64000)G|([1-9]||[1-5][0-7]|58)Ti|([1-9]||[1-5][0-9]|6[0-3]|64)T)$/,
                }),
                volumeType: str({ enum: ['standard', 'io1', 'io2', 'gp2', 'sc1', 'st1', 'gp3'] }),
                encrypted: { type: 'boolean' },
                deleteOnTermination: { type: 'boolean' },
                kmsKeyID: str(),
                iops: { type: 'integer' },
                throughput: { type: 'integer' },
              },
              [],
              [
                {
                  message: 'snapshotID or volumeSize must be defined',
                  holds: (e: { volumeSize?: string }) => e.volumeSize !== undefined,
                },
              ],
            ),
          }),
          rules: [
            {
              message: 'must have only one blockDeviceMappings with rootVolume',
              holds: (ms: { rootVolume?: boolean }[]) => ms.filter((m) => m.rootVolume).length <= 1,
            },
          ],
        },
        instanceStorePolicy: str({ enum: ['RAID0'] }),
        tags: map(str(), [
          {
            message: 'tags may not use the keys Karpenter and EKS reserve',
            holds: (tags: Record<string, string>) =>
              Object.keys(tags).every(
                (k) =>
                  k !== '' &&
                  k !== 'eks:eks-cluster-name' &&
                  !k.startsWith('kubernetes.io/cluster') &&
                  ![
                    'karpenter.sh/nodepool',
                    'karpenter.sh/nodeclaim',
                    'karpenter.k8s.aws/ec2nodeclass',
                  ].includes(k),
              ),
          },
        ]),
      },
      ['amiSelectorTerms', 'securityGroupSelectorTerms', 'subnetSelectorTerms'],
      [
        {
          message: 'must specify exactly one of role or instanceProfile',
          holds: (s: { role?: string; instanceProfile?: string }) =>
            (s.role === undefined) !== (s.instanceProfile === undefined),
        },
      ],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

/** Every way `value` breaks `schema`, as `path: problem`. */
export function crdViolations(schema: Schema, value: unknown, path = ''): string[] {
  const out: string[] = [];
  const rules = 'rules' in schema ? (schema.rules ?? []) : [];
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return [`${path}: expected an object`];
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? [])
        if (record[key] === undefined) out.push(`${path}.${key}: Required value`);
      for (const [key, item] of Object.entries(record)) {
        const child = schema.map ?? schema.properties?.[key];
        if (!child) out.push(`${path}.${key}: field not declared in schema`);
        else out.push(...crdViolations(child, item, `${path}.${key}`));
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${path}: expected an array`];
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        out.push(`${path}: more than ${schema.maxItems} items`);
      if (schema.minItems !== undefined && value.length < schema.minItems)
        out.push(`${path}: fewer than ${schema.minItems} items`);
      value.forEach((item, i) => {
        out.push(...crdViolations(schema.items, item, `${path}[${i}]`));
      });
      break;
    case 'string':
      if (typeof value !== 'string') return [`${path}: expected a string`];
      if (schema.enum && !schema.enum.includes(value)) out.push(`${path}: Unsupported value: "${value}"`);
      if (schema.pattern && !schema.pattern.test(value))
        out.push(`${path}: should match '${schema.pattern.source}'`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        out.push(`${path}: longer than ${schema.maxLength}`);
      break;
    case 'integer':
      if (!Number.isInteger(value)) return [`${path}: expected an integer`];
      if (schema.minimum !== undefined && (value as number) < schema.minimum)
        out.push(`${path}: should be >= ${schema.minimum}`);
      if (schema.maximum !== undefined && (value as number) > schema.maximum)
        out.push(`${path}: should be <= ${schema.maximum}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') out.push(`${path}: expected a boolean`);
      break;
  }
  for (const rule of rules) if (!rule.holds(value as never)) out.push(`${path}: ${rule.message}`);
  return out;
}
