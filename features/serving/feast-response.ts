import type { FeatureValue, ViewRecord } from '../online/record';
import { formatEventTime } from '../online/record';
import type { OnlineFeaturesQuery } from './feast-request';

/** Feast's field statuses (protos/feast/serving/ServingService.proto). */
export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** One output column: a join key or a feature, with a value per entity row. */
export interface FeatureVector {
  values: FeatureValue[];
  statuses: FieldStatus[];
  event_timestamps: string[];
}

/** Feast's GetOnlineFeaturesResponse as its feature server writes it in JSON. */
export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureVector[];
}

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * Builds the response, column by column as Feast does: join keys first (PRESENT, epoch
 * timestamps), then each requested feature. TTL is enforced here, on every read: a value
 * older than its view's TTL is OUTSIDE_MAX_AGE and withheld (null), never served as current.
 */
export function onlineFeaturesResponse(
  query: OnlineFeaturesQuery,
  records: readonly (readonly (ViewRecord | undefined)[])[],
  nowUs: number,
): OnlineFeaturesResponse {
  const { rows } = query;
  const names: string[] = [];
  const results: FeatureVector[] = [];
  for (const column of query.joinKeyColumns) {
    names.push(column.name);
    results.push({
      values: [...column.values],
      statuses: new Array<FieldStatus>(rows).fill('PRESENT'),
      event_timestamps: new Array<string>(rows).fill(EPOCH),
    });
  }
  query.selections.forEach((selection, s) => {
    const viewRecords = records[s]!;
    const { ttlUs } = selection.view;
    const stamps = new Array<string>(rows);
    const fresh = new Array<boolean>(rows);
    for (let row = 0; row < rows; row++) {
      const record = viewRecords[row];
      stamps[row] = record ? formatEventTime(record.eventTimeUs) : EPOCH;
      fresh[row] = record !== undefined && (ttlUs === 0 || nowUs - record.eventTimeUs <= ttlUs);
    }
    selection.featureIndexes.forEach((index, f) => {
      names.push(selection.outputNames[f]!);
      const values = new Array<FeatureValue>(rows);
      const statuses = new Array<FieldStatus>(rows);
      for (let row = 0; row < rows; row++) {
        const record = viewRecords[row];
        if (!record) {
          values[row] = null;
          statuses[row] = 'NOT_FOUND';
        } else if (!fresh[row]) {
          values[row] = null;
          statuses[row] = 'OUTSIDE_MAX_AGE';
        } else {
          const value = record.values[index] ?? null;
          values[row] = value;
          statuses[row] = value === null ? 'NULL_VALUE' : 'PRESENT';
        }
      }
      results.push({ values, statuses, event_timestamps: stamps });
    });
  });
  return { metadata: { feature_names: names }, results };
}
