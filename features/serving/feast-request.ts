import type { FeatureCatalog, ServedView } from '../catalog';
import { entityKey, type JoinKeyValue, joinKeyProblem } from '../online/entity-key';
import { columnarTable, FeatureRequestError, invalid } from './feast-errors';

/** Bounds what one request can ask for: Lambda responses are at most 6 MB. */
export const MAX_ENTITY_ROWS = 1_000;
export const MAX_FEATURES = 1_000;

/** One view's part of a request: which of its features, under which output names. */
export interface ViewSelection {
  readonly view: ServedView;
  readonly featureIndexes: readonly number[];
  readonly outputNames: readonly string[];
  /** The online key of each entity row for this view's entity. */
  readonly keys: readonly string[];
}

export interface OnlineFeaturesQuery {
  readonly rows: number;
  /** Join key columns echoed first in the response, as Feast does. */
  readonly joinKeyColumns: readonly { readonly name: string; readonly values: readonly JoinKeyValue[] }[];
  readonly selections: readonly ViewSelection[];
  /** The same object for every request of one team and feature list: what a response may precompute per shape. */
  readonly shape: object;
}

/**
 * Checks a `POST /get-online-features` body (Feast's GetOnlineFeaturesRequest) against the
 * registry and the caller's grants, and resolves it to keys per view. Throws a
 * FeatureRequestError naming the field for anything Feast would refuse or silently mangle.
 */
export function resolveOnlineRequest(
  catalog: FeatureCatalog,
  team: string,
  body: unknown,
): OnlineFeaturesQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('(body)', 'must be a JSON object');
  const request = body as Record<string, unknown>;
  const fullNames = request.full_feature_names ?? false;
  if (typeof fullNames !== 'boolean') throw invalid('full_feature_names', 'must be true or false');

  const byView = featurePlan(catalog, team, request, fullNames);
  const { columns, rows } = columnarTable(request.entities, 'entities', MAX_ENTITY_ROWS);

  const used = new Set<string>();
  // Views of one entity share its keys: checked and built once per entity.
  const keysByEntity = new Map<string, readonly string[]>();
  const keysOf = (view: ServedView): readonly string[] => {
    const known = keysByEntity.get(view.entity.name);
    if (known) return known;
    const keyColumns = view.entity.joinKeys.map((joinKey) => {
      const values = columns[joinKey.name] as unknown[] | undefined;
      if (!values) throw invalid(`entities.${joinKey.name}`, `required: join key of ${view.name}`);
      used.add(joinKey.name);
      values.forEach((value, i) => {
        const problem = joinKeyProblem(joinKey.type, value);
        if (problem) throw invalid(`entities.${joinKey.name}[${i}]`, problem);
      });
      return values as JoinKeyValue[];
    });
    const keys = Array.from({ length: rows }, (_, row) =>
      entityKey(
        view.entity,
        keyColumns.map((column) => column[row]!),
      ),
    );
    keysByEntity.set(view.entity.name, keys);
    return keys;
  };
  const selections = [...byView.values()].map(
    ({ view, indexes, names }): ViewSelection => ({
      view,
      featureIndexes: indexes,
      outputNames: names,
      keys: keysOf(view),
    }),
  );
  // Keys that are no join key of a requested view are ignored, as Feast ignores them.
  const joinKeyColumns = Object.keys(columns)
    .filter((name) => used.has(name))
    .map((name) => ({ name, values: columns[name] as JoinKeyValue[] }));
  return { rows, joinKeyColumns, selections, shape: byView };
}

type FeaturePlan = Map<string, { view: ServedView; indexes: number[]; names: string[] }>;

/** Resolved plans by caller and request shape: serving the same service again resolves nothing. */
const plans = new WeakMap<FeatureCatalog, Map<string, FeaturePlan>>();
const MAX_PLANS = 1_000;

/** Which features of which views, under which names: checked once per team and request shape. */
function featurePlan(
  catalog: FeatureCatalog,
  team: string,
  request: Record<string, unknown>,
  fullNames: boolean,
): FeaturePlan {
  const shape = planKey(team, request, fullNames);
  let cached = plans.get(catalog);
  if (!cached) {
    cached = new Map();
    plans.set(catalog, cached);
  }
  const known = shape === undefined ? undefined : cached.get(shape);
  if (known) return known;
  const refs = requestedRefs(catalog, team, request);
  if (refs.length > MAX_FEATURES) throw invalid('features', `at most ${MAX_FEATURES} features per request`);

  const byView: FeaturePlan = new Map();
  refs.forEach(({ viewName, feature, field }) => {
    const view = catalog.views.get(viewName);
    if (!view?.definition.online)
      throw new FeatureRequestError(
        404,
        `Feature view ${viewName} does not exist in project ${catalog.registry.project}`,
        [{ field, reason: `no online feature view ${viewName}` }],
        'FeatureViewNotFoundException',
      );
    if (!catalog.teamMayUseView(team, viewName))
      throw new FeatureRequestError(
        403,
        `team ${team} may not read ${viewName}`,
        [{ field, reason: `no feature service of team ${team} includes ${viewName}` }],
        'FeastPermissionError',
      );
    const index = view.featureIndex.get(feature);
    if (index === undefined) throw invalid(field, `${viewName} has no feature ${feature}`);
    let selection = byView.get(viewName);
    if (!selection) {
      selection = { view, indexes: [], names: [] };
      byView.set(viewName, selection);
    }
    selection.indexes.push(index);
    selection.names.push(fullNames ? `${viewName}__${feature}` : feature);
  });
  const names = [...byView.values()].flatMap((s) => s.names);
  const collided = names.filter((n, i) => names.indexOf(n) !== i);
  if (collided.length > 0)
    throw new FeatureRequestError(
      400,
      `Duplicate features named ${[...new Set(collided)].join(', ')} found. To resolve this collision, set full_feature_names=True.`,
      [
        {
          field: 'full_feature_names',
          reason: `features ${[...new Set(collided)].join(', ')} collide; set it to true`,
        },
      ],
      'FeatureNameCollisionError',
    );

  if (shape !== undefined) {
    if (cached.size >= MAX_PLANS) cached.clear();
    cached.set(shape, byView);
  }
  return byView;
}

/** A key for the plan of a well-formed request, or undefined (resolve it, and report its errors). */
function planKey(team: string, request: Record<string, unknown>, fullNames: boolean): string | undefined {
  const { feature_service: service, features } = request;
  if (typeof service === 'string') return `${team}\u0000s\u0000${fullNames}\u0000${service}`;
  if (
    (service === undefined || service === null) &&
    Array.isArray(features) &&
    features.every((f) => typeof f === 'string')
  )
    return `${team}\u0000f\u0000${fullNames}\u0000${features.join('\u0001')}`;
  return undefined;
}

interface FeatureRef {
  readonly viewName: string;
  readonly feature: string;
  readonly field: string;
}

function requestedRefs(
  catalog: FeatureCatalog,
  team: string,
  request: Record<string, unknown>,
): FeatureRef[] {
  const service = request.feature_service;
  const features = request.features ?? [];
  if (service !== undefined && service !== null) {
    if (typeof service !== 'string') throw invalid('feature_service', 'must be a string');
    const found = catalog.services.get(service);
    if (!found)
      throw new FeatureRequestError(
        404,
        `Feature service ${service} does not exist in project ${catalog.registry.project}`,
        [{ field: 'feature_service', reason: `no feature service ${service}` }],
        'FeatureServiceNotFoundException',
      );
    if (!found.teams.includes(team))
      throw new FeatureRequestError(
        403,
        `team ${team} may not read feature service ${service}`,
        [{ field: 'feature_service', reason: `not granted to team ${team}` }],
        'FeastPermissionError',
      );
    return found.views.flatMap((ref) =>
      ref.features.map((feature) => ({ viewName: ref.view, feature, field: 'feature_service' })),
    );
  }
  if (!Array.isArray(features)) throw invalid('features', 'must be a list of "view:feature" references');
  if (features.length === 0) throw invalid('features', 'name at least one feature, or a feature_service');
  return features.map((ref, i) => {
    const field = `features[${i}]`;
    if (typeof ref !== 'string') throw invalid(field, 'must be a string "view:feature"');
    const colon = ref.indexOf(':');
    if (colon <= 0 || colon === ref.length - 1 || ref.indexOf(':', colon + 1) >= 0)
      throw invalid(field, 'must be "view:feature"');
    return { viewName: ref.slice(0, colon), feature: ref.slice(colon + 1), field };
  });
}
