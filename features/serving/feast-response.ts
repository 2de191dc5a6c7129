import type { FeatureValue, ViewRecord } from '../online/record';
import { formatEventTime, tokensOf } from '../online/record';
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

/** Rows of one materialization share event times: each distinct time is formatted once. */
function eventTimeFormatter(): (micros: number) => string {
  const formatted = new Map<number, string>();
  return (micros) => {
    let text = formatted.get(micros);
    if (text === undefined) {
      text = formatEventTime(micros);
      formatted.set(micros, text);
    }
    return text;
  };
}

/** `[<item>,<item>,...]` of `rows` items, by item and row count: most columns are all PRESENT. */
const repeatedLists = new Map<string, string>();
function repeatedList(item: string, rows: number): string {
  const id = `${rows}\u0000${item}`;
  let text = repeatedLists.get(id);
  if (text === undefined) {
    text = `[${new Array<string>(rows).fill(item).join(',')}]`;
    // Bounded: one per row count (at most MAX_ENTITY_ROWS) and item (PRESENT, epoch).
    if (repeatedLists.size < 4_096) repeatedLists.set(id, text);
  }
  return text;
}

const PRESENT = '"PRESENT"';
const NULL_VALUE = '"NULL_VALUE"';
const NOT_FOUND = '"NOT_FOUND"';
const OUTSIDE_MAX_AGE = '"OUTSIDE_MAX_AGE"';

/**
 * The response, column by column as Feast builds it: join keys first (PRESENT, epoch
 * timestamps), then each requested feature. TTL is enforced here, on every read: a value
 * older than its view's TTL is OUTSIDE_MAX_AGE and withheld (null), never served as current.
 *
 * It is written straight to JSON text: each value's
 * stored JSON text is spliced in as it is (records from the cache or the store keep it), one
 * view's timestamps list is written once for all its features, and an all-PRESENT statuses
 * list is shared by row count; no object per value, no JSON.stringify of the whole response.
 */
export function onlineFeaturesJson(
  query: OnlineFeaturesQuery,
  records: readonly (readonly (ViewRecord | undefined)[])[],
  nowUs: number,
): string {
  const { rows } = query;
  const names: string[] = [];
  const columns: string[] = [];
  const allPresent = repeatedList(PRESENT, rows);
  const epochs = repeatedList(`"${EPOCH}"`, rows);
  for (const column of query.joinKeyColumns) {
    names.push(column.name);
    columns.push(
      `{"values":${JSON.stringify(column.values)},"statuses":${allPresent},"event_timestamps":${epochs}}`,
    );
  }
  const stampOf = eventTimeFormatter();
  query.selections.forEach((selection, s) => {
    const viewRecords = records[s]!;
    const { ttlUs } = selection.view;
    // Per row: the record to serve (undefined: none or too old), and the status when there is none.
    const served = new Array<ViewRecord | undefined>(rows);
    const absentStatus = new Array<string>(rows);
    const tokens = new Array<readonly string[] | undefined>(rows);
    let allServed = true;
    let stamps = '[';
    for (let row = 0; row < rows; row++) {
      const record = viewRecords[row];
      stamps += `${row > 0 ? ',' : ''}"${record ? stampOf(record.eventTimeUs) : EPOCH}"`;
      if (!record) absentStatus[row] = NOT_FOUND;
      else if (ttlUs !== 0 && nowUs - record.eventTimeUs > ttlUs) absentStatus[row] = OUTSIDE_MAX_AGE;
      else {
        served[row] = record;
        tokens[row] = tokensOf(record);
        continue;
      }
      allServed = false;
    }
    stamps += ']';
    selection.featureIndexes.forEach((index, f) => {
      names.push(selection.outputNames[f]!);
      const values = new Array<string>(rows);
      let anyNull = false;
      for (let row = 0; row < rows; row++) {
        const record = served[row];
        let token = 'null';
        if (record) {
          const stored = tokens[row];
          token = stored ? (stored[index] ?? 'null') : JSON.stringify(record.values[index] ?? null);
          if (token === 'null') anyNull = true;
        }
        values[row] = token;
      }
      let statuses = allPresent;
      if (!allServed || anyNull) {
        statuses = '[';
        for (let row = 0; row < rows; row++) {
          let status = absentStatus[row];
          if (status === undefined) {
            const stored = tokens[row];
            const isNull = stored
              ? (stored[index] ?? 'null') === 'null'
              : (served[row]!.values[index] ?? null) === null;
            status = isNull ? NULL_VALUE : PRESENT;
          }
          statuses += row > 0 ? `,${status}` : status;
        }
        statuses += ']';
      }
      columns.push(`{"values":[${values.join(',')}],"statuses":${statuses},"event_timestamps":${stamps}}`);
    });
  });
  return `{"metadata":{"feature_names":${JSON.stringify(names)}},"results":[${columns.join(',')}]}`;
}
