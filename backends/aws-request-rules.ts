import type {
  JobDefinition,
  NodeProperties,
  RegisterJobDefinitionRequest,
  SubmitJobRequest,
} from '@aws-sdk/client-batch';
import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker';
import { TRAINING_INSTANCES } from '../config/sagemaker-instances';

/**
 * Documented rules of the Batch and SageMaker APIs that their models cannot express (one
 * field constrained by another, or prose limits the model leaves out). Each rule cites its
 * source: the API reference page, whose text botocore's service-2.json carries as the
 * member's documentation. Test clients check every request against these and the model;
 * the backends check their own requests before sending them.
 */
export interface Rule<Request> {
  readonly id: string;
  /** Where AWS documents the rule. */
  readonly source: string;
  /** What is wrong with the request, or undefined when it follows the rule. */
  readonly check: (request: Request) => string | undefined;
}

const BATCH_API = 'https://docs.aws.amazon.com/batch/latest/APIReference';
const SAGEMAKER_API = 'https://docs.aws.amazon.com/sagemaker/latest/APIReference';
const TAGGING = 'https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html';

/** Tag characters AWS accepts across services: letters, numbers, spaces and `_ . : / = + - @`. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function tagProblems(tags: Readonly<Record<string, string>> | undefined): string | undefined {
  for (const [key, value] of Object.entries(tags ?? {})) {
    if (key.toLowerCase().startsWith('aws:')) return `tag key ${key}: the aws: prefix is reserved`;
    if (!TAG_CHARACTERS.test(key) || !TAG_CHARACTERS.test(value))
      return `tag ${key}: characters outside ${TAG_CHARACTERS.source}`;
  }
  return undefined;
}

/** `a:b`, `a:`, `:b` or `:` as Batch writes node ranges. */
export function parseNodeRange(range: string): { from: number; to?: number } | undefined {
  const match = /^(\d*):(\d*)$/.exec(range);
  if (!match) return undefined;
  return {
    from: match[1] === '' ? 0 : Number(match[1]),
    ...(match[2] === '' ? {} : { to: Number(match[2]) }),
  };
}

/** Batch job and job definition names: 1-128 letters, digits, hyphens and underscores, alphanumeric first. */
const BATCH_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** Images: up to 255 letters, digits, `- _ : . / #` (and `@` of a digest reference). */
const BATCH_IMAGE = /^[A-Za-z0-9\-_:./#@]{1,255}$/;

/** Environment variables of every container a SubmitJob request overrides. */
function submittedEnvironment(request: SubmitJobRequest) {
  return [
    ...(request.containerOverrides?.environment ?? []),
    ...(request.nodeOverrides?.nodePropertyOverrides ?? []).flatMap(
      (o) => o.containerOverrides?.environment ?? [],
    ),
  ];
}

/** A SubmitJob request together with the job definition it names (as registered). */
export interface SubmitJobWithDefinition {
  readonly request: SubmitJobRequest;
  readonly definition?: Pick<JobDefinition, 'type' | 'nodeProperties'>;
}

export const SUBMIT_JOB_RULES: readonly Rule<SubmitJobWithDefinition>[] = [
  {
    id: 'batch-numnodes-open-range',
    source: `${BATCH_API}/API_NodeOverrides.html (numNodes)`,
    check: ({ request, definition }) => {
      const numNodes = request.nodeOverrides?.numNodes;
      if (numNodes === undefined) return undefined;
      const ranges = definition?.nodeProperties?.nodeRangeProperties ?? [];
      const open = ranges
        .map((r) => parseNodeRange(r.targetNodes ?? ''))
        .filter((r) => r && r.to === undefined);
      if (open.length === 0) {
        return `numNodes ${numNodes} overrides a definition without an open-ended node range (${ranges.map((r) => r.targetNodes).join(', ') || 'none'})`;
      }
      if (!open.some((r) => r!.from < numNodes))
        return `every open node range starts at or past numNodes ${numNodes}`;
      if ((definition?.nodeProperties?.mainNode ?? 0) >= numNodes)
        return `mainNode is not below numNodes ${numNodes}`;
      return undefined;
    },
  },
  {
    id: 'batch-mnp-needs-multinode-definition',
    source: `${BATCH_API}/API_SubmitJob.html (nodeOverrides)`,
    check: ({ request, definition }) =>
      request.nodeOverrides && definition && definition.type !== 'multinode'
        ? `nodeOverrides on a ${definition.type} job definition`
        : undefined,
  },
  {
    id: 'batch-no-aws-batch-variables',
    source: `${BATCH_API}/API_ContainerOverrides.html (environment)`,
    check: ({ request }) => {
      const reserved = submittedEnvironment(request).find((v) => v.name?.startsWith('AWS_BATCH'));
      return reserved ? `environment variable ${reserved.name} starts with AWS_BATCH` : undefined;
    },
  },
  {
    id: 'batch-job-name',
    source: `${BATCH_API}/API_SubmitJob.html (jobName)`,
    check: ({ request }) =>
      BATCH_NAME.test(request.jobName ?? '') ? undefined : `jobName ${request.jobName}`,
  },
  {
    id: 'batch-share-identifier',
    source: `${BATCH_API}/API_SubmitJob.html (shareIdentifier): up to 255 alphanumeric characters, optionally followed by *`,
    check: ({ request }) =>
      request.shareIdentifier === undefined || /^[A-Za-z0-9]{1,255}\*?$/.test(request.shareIdentifier)
        ? undefined
        : `shareIdentifier ${request.shareIdentifier}`,
  },
  {
    id: 'batch-scheduling-priority',
    source: `${BATCH_API}/API_SubmitJob.html (schedulingPriorityOverride): 0 to 9999`,
    check: ({ request }) => {
      const p = request.schedulingPriorityOverride;
      return p === undefined || (p >= 0 && p <= 9999) ? undefined : `schedulingPriorityOverride ${p}`;
    },
  },
  {
    id: 'batch-timeout-minimum',
    source: `${BATCH_API}/API_JobTimeout.html: the minimum is 60 seconds`,
    check: ({ request }) => {
      const t = request.timeout?.attemptDurationSeconds;
      return t === undefined || t >= 60 ? undefined : `attemptDurationSeconds ${t}`;
    },
  },
  {
    id: 'batch-retry-strategy',
    source: `${BATCH_API}/API_RetryStrategy.html, API_EvaluateOnExit.html: 1-10 attempts, at most 5 conditions, globs of letters, digits, . : and spaces with an optional trailing *`,
    check: ({ request }) => {
      const strategy = request.retryStrategy;
      if (!strategy) return undefined;
      const { attempts, evaluateOnExit = [] } = strategy;
      if (evaluateOnExit.length > 0 && attempts === undefined) return 'evaluateOnExit without attempts';
      if (attempts !== undefined && (attempts < 1 || attempts > 10)) return `attempts ${attempts}`;
      if (evaluateOnExit.length > 5) return `${evaluateOnExit.length} evaluateOnExit conditions`;
      const glob = /^[A-Za-z0-9.: \t]{0,511}\*?$/;
      const bad = evaluateOnExit.find(
        (c) =>
          (c.onStatusReason !== undefined && !glob.test(c.onStatusReason)) ||
          (c.onReason !== undefined && !glob.test(c.onReason)),
      );
      return bad ? `evaluateOnExit condition ${JSON.stringify(bad)}` : undefined;
    },
  },
  {
    id: 'batch-array-size',
    source: `${BATCH_API}/API_SubmitJob.html (arrayProperties): 2 to 10,000`,
    check: ({ request }) => {
      const size = request.arrayProperties?.size;
      return size === undefined || (size >= 2 && size <= 10_000) ? undefined : `array size ${size}`;
    },
  },
  {
    id: 'batch-tags',
    source: `${TAGGING}; ${BATCH_API}/API_SubmitJob.html (tags)`,
    check: ({ request }) => tagProblems(request.tags),
  },
];

export const REGISTER_JOB_DEFINITION_RULES: readonly Rule<RegisterJobDefinitionRequest>[] = [
  {
    id: 'batch-job-definition-name',
    source: `${BATCH_API}/API_RegisterJobDefinition.html (jobDefinitionName)`,
    check: (r) =>
      BATCH_NAME.test(r.jobDefinitionName ?? '') ? undefined : `jobDefinitionName ${r.jobDefinitionName}`,
  },
  {
    id: 'batch-image-reference',
    source: `${BATCH_API}/API_ContainerProperties.html (image): 255 characters of letters, digits, - _ : . / #`,
    check: (r) => {
      const images = [
        r.containerProperties?.image,
        ...(r.nodeProperties?.nodeRangeProperties ?? []).map((n) => n.container?.image),
      ].filter((i) => i !== undefined);
      const bad = images.find((i) => !BATCH_IMAGE.test(i));
      return bad === undefined ? undefined : `image ${bad}`;
    },
  },
  {
    id: 'batch-multinode-node-properties',
    source: `${BATCH_API}/API_NodeProperties.html (mainNode), API_NodeRangeProperty.html (targetNodes: the ranges must account for all nodes 0:n)`,
    check: (r) => (r.type === 'multinode' ? nodePropertiesProblem(r.nodeProperties) : undefined),
  },
  {
    id: 'batch-tags',
    source: TAGGING,
    check: (r) => tagProblems(r.tags),
  },
];

function nodePropertiesProblem(properties: NodeProperties | undefined): string | undefined {
  if (!properties) return 'a multinode definition needs nodeProperties';
  const { numNodes = 0, mainNode = 0, nodeRangeProperties = [] } = properties;
  if (mainNode >= numNodes) return `mainNode ${mainNode} is not below numNodes ${numNodes}`;
  const covered = new Set<number>();
  for (const property of nodeRangeProperties) {
    const range = parseNodeRange(property.targetNodes ?? '');
    if (!range) return `targetNodes ${property.targetNodes}`;
    for (let node = range.from; node <= Math.min(range.to ?? numNodes - 1, numNodes - 1); node++)
      covered.add(node);
  }
  return covered.size === numNodes ? undefined : `node ranges cover ${covered.size} of ${numNodes} nodes`;
}

export const CREATE_TRAINING_JOB_RULES: readonly Rule<CreateTrainingJobRequest>[] = [
  {
    id: 'sagemaker-no-volume-key-on-instance-storage',
    source: `${SAGEMAKER_API}/API_ResourceConfig.html (VolumeKmsKeyId): not with instance types that have local storage`,
    check: (r) => {
      const type = r.ResourceConfig?.InstanceType;
      if (r.ResourceConfig?.VolumeKmsKeyId === undefined || type === undefined) return undefined;
      const instance = TRAINING_INSTANCES[type];
      if (!instance)
        return `instance type ${type} is not in config/sagemaker-instances.ts, so its storage is unknown`;
      return instance.instanceStore ? `VolumeKmsKeyId on ${type}, which has local NVMe storage` : undefined;
    },
  },
  {
    id: 'sagemaker-spot-wait-time',
    source: `${SAGEMAKER_API}/API_StoppingCondition.html (MaxWaitTimeInSeconds: at least MaxRuntimeInSeconds)`,
    check: (r) => {
      const { MaxRuntimeInSeconds = 86_400, MaxWaitTimeInSeconds } = r.StoppingCondition ?? {};
      if (!r.EnableManagedSpotTraining) {
        return MaxWaitTimeInSeconds === undefined ? undefined : 'MaxWaitTimeInSeconds without managed spot';
      }
      if (MaxWaitTimeInSeconds === undefined) return 'managed spot without MaxWaitTimeInSeconds';
      return MaxWaitTimeInSeconds >= MaxRuntimeInSeconds
        ? undefined
        : `MaxWaitTimeInSeconds ${MaxWaitTimeInSeconds} < MaxRuntimeInSeconds ${MaxRuntimeInSeconds}`;
    },
  },
  {
    id: 'sagemaker-max-runtime',
    source: `${SAGEMAKER_API}/API_StoppingCondition.html (MaxRuntimeInSeconds: at most 28 days)`,
    check: (r) => {
      const runtime = r.StoppingCondition?.MaxRuntimeInSeconds;
      return runtime === undefined || runtime <= 28 * 86_400 ? undefined : `MaxRuntimeInSeconds ${runtime}`;
    },
  },
  {
    id: 'sagemaker-image-reference',
    source: `${SAGEMAKER_API}/API_AlgorithmSpecification.html (TrainingImage: registry/repository[:tag] or registry/repository[@digest])`,
    check: (r) => {
      const image = r.AlgorithmSpecification?.TrainingImage;
      return image === undefined || IMAGE_REFERENCE.test(image) ? undefined : `TrainingImage ${image}`;
    },
  },
  {
    id: 'sagemaker-tags',
    source: TAGGING,
    check: (r) => tagProblems(Object.fromEntries((r.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))),
  },
];

/** `registry/repository[:tag]` or `registry/repository@sha256:<hex>`. */
export const IMAGE_REFERENCE =
  /^[a-z0-9.-]+(?::\d+)?\/[a-z0-9._/-]+(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[0-9a-f]{64})?$/;

/** Every rule a request breaks, as `rule id: problem (source)`. */
export function ruleViolations<Request>(rules: readonly Rule<Request>[], request: Request): string[] {
  return rules.flatMap((rule) => {
    const problem = rule.check(request);
    return problem === undefined ? [] : [`${rule.id}: ${problem} (${rule.source})`];
  });
}
