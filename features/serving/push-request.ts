import type { FeatureCatalog, ServedView } from '../catalog';
import type { ValueType } from '../definitions/schema';
import { entityKey, type JoinKeyValue, joinKeyProblem } from '../online/entity-key';
import type { RecordWrite } from '../online/ports';
import { type FeatureValue, toMicros } from '../online/record';
import { columnarTable, FeatureRequestError, invalid } from './feast-errors';

export const PUSH_MODES = ['online', 'offline', 'online_and_offline'] as const;
export type PushMode = (typeof PUSH_MODES)[number];
export const MAX_PUSH_ROWS = 10_000;

/** A validated push: the view, its rows as online writes, and the columns for the offline log. */
export interface PushBatch {
  readonly view: ServedView;
  readonly to: PushMode;
  readonly writes: RecordWrite[];
  /** Rows as the offline store appends them: join keys, event and created times (µs), features. */
  readonly rows: Record<string, FeatureValue>[];
}

/**
 * Checks a `POST /push` body (Feast's PushFeaturesRequest: `push_source_name`, a columnar
 * `df`, `to`) against the view's schema: every join key, `event_timestamp` and every feature
 * column, equally long, each value of its type. Naive timestamps are UTC, as in Feast.
 */
export function resolvePush(catalog: FeatureCatalog, team: string, body: unknown, nowUs: number): PushBatch {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('(body)', 'must be a JSON object');
  const request = body as Record<string, unknown>;
  const source = request.push_source_name;
  if (typeof source !== 'string') throw invalid('push_source_name', 'required: a string');
  const view = [...catalog.views.values()].find((v) => v.definition.pushSource === source);
  if (!view)
    throw new FeatureRequestError(
      422,
      `Unable to find push source '${source}'.`,
      [{ field: 'push_source_name', reason: `no push source ${source}` }],
      'PushSourceNotFoundException',
    );
  if (!catalog.teamMayUseView(team, view.name))
    throw new FeatureRequestError(
      403,
      `team ${team} may not push to ${view.name}`,
      [{ field: 'push_source_name', reason: `no feature service of team ${team} includes ${view.name}` }],
      'FeastPermissionError',
    );
  const to = request.to ?? 'online';
  if (typeof to !== 'string' || !(PUSH_MODES as readonly string[]).includes(to))
    throw invalid('to', `must be one of ${PUSH_MODES.join(', ')}`);
  if (to !== 'offline' && !view.definition.online)
    throw invalid('to', `${view.name} is offline-only: push with to=offline`);

  const { columns, rows } = columnarTable(request.df, 'df', MAX_PUSH_ROWS);
  const column = (name: string, why: string) => {
    const values = columns[name];
    if (!Array.isArray(values)) throw invalid(`df.${name}`, `required: ${why}`);
    return values as unknown[];
  };

  const keyColumns = view.entity.joinKeys.map((joinKey) => {
    const values = column(joinKey.name, `join key of ${view.name}`);
    values.forEach((value, i) => {
      const problem = joinKeyProblem(joinKey.type, value);
      if (problem) throw invalid(`df.${joinKey.name}[${i}]`, problem);
    });
    return values as JoinKeyValue[];
  });
  const eventTimes = column('event_timestamp', 'the event time of each row').map((value, i) => {
    const micros = typeof value === 'string' ? parseFeastTime(value) : undefined;
    if (micros === undefined) throw invalid(`df.event_timestamp[${i}]`, 'must be an ISO 8601 time');
    return micros;
  });
  const created = columns.created;
  const createdTimes = Array.isArray(created)
    ? created.map((value, i) => {
        if (value === null) return nowUs;
        const micros = typeof value === 'string' ? parseFeastTime(value) : undefined;
        if (micros === undefined) throw invalid(`df.created[${i}]`, 'must be an ISO 8601 time or null');
        return micros;
      })
    : new Array<number>(rows).fill(nowUs);
  const features = view.definition.features.map((feature) => {
    const values = column(feature.name, `feature of ${view.name}`);
    values.forEach((value, i) => {
      const problem = valueProblem(feature.type, value);
      if (problem) throw invalid(`df.${feature.name}[${i}]`, problem);
    });
    return values as FeatureValue[];
  });

  const writes: RecordWrite[] = [];
  const offlineRows: Record<string, FeatureValue>[] = [];
  for (let row = 0; row < rows; row++) {
    const keyValues = keyColumns.map((c) => c[row]!);
    const values = features.map((c) => c[row] ?? null);
    writes.push({
      key: entityKey(view.entity, keyValues),
      view: view.name,
      record: { eventTimeUs: eventTimes[row]!, createdUs: createdTimes[row]!, version: view.version, values },
    });
    const offline: Record<string, FeatureValue> = {};
    view.entity.joinKeys.forEach((k, i) => {
      offline[k.name] = keyValues[i]!;
    });
    offline.event_timestamp_us = eventTimes[row]!;
    offline.created_us = createdTimes[row]!;
    view.definition.features.forEach((f, i) => {
      offline[f.name] = values[i]!;
    });
    offlineRows.push(offline);
  }
  return { view, to: to as PushMode, writes, rows: offlineRows };
}

/** Feast's push timestamps: ISO 8601, `T` or a space between date and time; without a zone, UTC. */
export function parseFeastTime(text: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(
    text.trim(),
  );
  if (!match) return undefined;
  return toMicros(`${match[1]}T${match[2]}${match[3] ?? 'Z'}`);
}

function valueProblem(type: ValueType, value: unknown): string | undefined {
  if (value === null) return undefined;
  switch (type) {
    case 'Float32':
    case 'Float64':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number or null';
    case 'Int32':
    case 'Int64':
    case 'UnixTimestamp':
      return typeof value === 'number' && Number.isSafeInteger(value)
        ? undefined
        : 'must be an integer or null';
    case 'String':
      return typeof value === 'string' ? undefined : 'must be a string or null';
    case 'Bool':
      return typeof value === 'boolean' ? undefined : 'must be true, false or null';
  }
}
