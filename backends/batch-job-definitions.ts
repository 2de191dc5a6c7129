import { createHash } from 'node:crypto';
import {
  type BatchClient,
  DescribeJobDefinitionsCommand,
  type JobDefinition,
  RegisterJobDefinitionCommand,
  type RegisterJobDefinitionRequest,
} from '@aws-sdk/client-batch';

/**
 * AWS Batch cannot override a container's image at submit time. Each image therefore gets
 * a job definition of its own: a copy of the environment's base definition (the one CDK
 * deploys) with only the image swapped, named by a hash of the image and reused across
 * submits instead of registering a new revision every time.
 */
export class ImageJobDefinitions {
  /** Per base definition and image; a failed lookup is dropped so the next submit retries it. */
  private readonly resolved = new Map<string, Promise<string>>();

  constructor(private readonly client: BatchClient) {}

  /** Name of a job definition that runs `image`: the base itself when it already does. */
  forImage(baseName: string, image: string): Promise<string> {
    const key = `${baseName}\n${image}`;
    let name = this.resolved.get(key);
    if (name === undefined) {
      name = this.resolve(baseName, image);
      this.resolved.set(key, name);
      name.catch(() => this.resolved.delete(key));
    }
    return name;
  }

  private async resolve(baseName: string, image: string): Promise<string> {
    const base = await this.latest(baseName);
    if (base === undefined) throw new Error(`job definition ${baseName} does not exist`);
    if (imagesOf(base).every((i) => i === image)) return baseName;
    const name = derivedName(baseName, image);
    if ((await this.latest(name)) !== undefined) return name;
    await this.client.send(new RegisterJobDefinitionCommand(withImage(base, name, image)));
    return name;
  }

  private async latest(name: string): Promise<JobDefinition | undefined> {
    const { jobDefinitions = [] } = await this.client.send(
      new DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: 'ACTIVE' }),
    );
    return jobDefinitions.reduce<JobDefinition | undefined>(
      (newest, d) => ((d.revision ?? 0) > (newest?.revision ?? -1) ? d : newest),
      undefined,
    );
  }
}

/** `<base>-<16 hex of sha256(image)>`: within Batch's 128 characters, stable across processes. */
export function derivedName(baseName: string, image: string): string {
  return `${baseName}-${createHash('sha256').update(image).digest('hex').slice(0, 16)}`;
}

function imagesOf(definition: JobDefinition): string[] {
  const nodeImages = definition.nodeProperties?.nodeRangeProperties?.map((r) => r.container?.image) ?? [];
  return [definition.containerProperties?.image, ...nodeImages].filter((i) => i !== undefined);
}

function withImage(base: JobDefinition, name: string, image: string): RegisterJobDefinitionRequest {
  return {
    jobDefinitionName: name,
    type: base.type as RegisterJobDefinitionRequest['type'],
    parameters: base.parameters,
    schedulingPriority: base.schedulingPriority,
    retryStrategy: base.retryStrategy,
    timeout: base.timeout,
    propagateTags: base.propagateTags,
    platformCapabilities: base.platformCapabilities,
    containerProperties: base.containerProperties && { ...base.containerProperties, image },
    nodeProperties: base.nodeProperties && {
      ...base.nodeProperties,
      nodeRangeProperties: base.nodeProperties.nodeRangeProperties?.map((range) => ({
        ...range,
        container: range.container && { ...range.container, image },
      })),
    },
    tags: { ...base.tags, 'drivetrain:base-definition': base.jobDefinitionName ?? '' },
  };
}
