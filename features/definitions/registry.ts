import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  EntityDefinition,
  FeatureDefinition,
  FeatureDefinitions,
  FeatureServiceDefinition,
  FeatureViewDefinition,
} from './schema';

/**
 * The registry artifact: definitions resolved (join keys copied into views, service feature
 * lists expanded) and versioned. Written to `features/registry.json` at build time and read
 * by the CDK stack, the Spark jobs and the runtime, so all three agree on one version.
 */
export interface Registry {
  readonly format: 1;
  readonly project: string;
  /** Hash of everything below: changes whenever any definition or transform does. */
  readonly hash: string;
  readonly entities: readonly EntityDefinition[];
  readonly featureViews: readonly RegisteredView[];
  readonly featureServices: readonly RegisteredService[];
}

export interface RegisteredView extends Omit<FeatureViewDefinition, 'transform'> {
  readonly joinKeys: readonly { readonly name: string; readonly type: 'String' | 'Int64' }[];
  readonly transform: {
    readonly module: string;
    /** Repository-relative paths of the module and of the sibling modules it imports. */
    readonly sources: readonly string[];
    /** Hash of those sources: editing any of them recomputes the view. */
    readonly sha256: string;
  };
  /** Hash of the view's definition alone (schema, sources, TTL, entity). */
  readonly definitionHash: string;
  /**
   * Definition and transform together: keys the offline output (a new version recomputes)
   * and tags every online value, so values of an older schema are never misread.
   */
  readonly version: string;
  /** Iceberg table of the view's offline rows, in the catalog's `features` namespace. */
  readonly offlineTable: string;
  /** Name `POST /push` takes as `push_source_name` for this view (a Feast push source). */
  readonly pushSource: string;
}

export interface RegisteredService extends Omit<FeatureServiceDefinition, 'views'> {
  readonly views: readonly { readonly view: string; readonly features: readonly string[] }[];
}

export const TRANSFORMS_DIR = 'spark/drivetrain_spark/features/transforms';
export const REGISTRY_PATH = 'features/registry.json';

/** JSON with object keys sorted at every level: the same definitions always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Builds the registry from validated definitions; `root` is the repository root. */
export function buildRegistry(definitions: FeatureDefinitions, root: string): Registry {
  const entities = new Map(definitions.entities.map((e) => [e.name, e]));
  const featureViews = definitions.featureViews.map((view): RegisteredView => {
    const entity = entities.get(view.entity)!;
    const sources = transformSources(root, view.transform);
    const { transform: _module, ...definition } = view;
    const definitionHash = sha256(canonicalJson({ ...definition, joinKeys: entity.joinKeys }));
    const transformSha = sha256(
      sources.map((path) => `${path}\n${readFileSync(join(root, path), 'utf8')}`).join('\n'),
    );
    return {
      ...definition,
      joinKeys: entity.joinKeys,
      transform: { module: view.transform, sources, sha256: transformSha },
      definitionHash,
      version: sha256(`${definitionHash}:${transformSha}`).slice(0, 16),
      offlineTable: `features.${view.name}`,
      pushSource: `${view.name}_push`,
    };
  });
  const views = new Map(featureViews.map((v) => [v.name, v]));
  const featureServices = definitions.featureServices.map(
    (service): RegisteredService => ({
      ...service,
      views: service.views.map((ref) => ({
        view: ref.view,
        features: ref.features ?? views.get(ref.view)!.features.map((f: FeatureDefinition) => f.name),
      })),
    }),
  );
  const body = {
    format: 1 as const,
    project: definitions.project,
    entities: definitions.entities,
    featureViews,
    featureServices,
  };
  return { ...body, hash: sha256(canonicalJson(body)).slice(0, 16) };
}

const SIBLING_IMPORT = /^from drivetrain_spark\.features\.transforms\.([a-z0-9_]+) import/gm;

/** The transform module and, transitively, the sibling transform modules it imports, sorted. */
function transformSources(root: string, module: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const path = `${TRANSFORMS_DIR}/${name}.py`;
    if (seen.has(path)) return;
    seen.add(path);
    for (const match of readFileSync(join(root, path), 'utf8').matchAll(SIBLING_IMPORT)) visit(match[1]!);
  };
  visit(module);
  return [...seen].sort();
}

/** The registry as written to disk: stable, human-diffable JSON. */
export function serializeRegistry(registry: Registry): string {
  return `${JSON.stringify(registry, null, 2)}\n`;
}
