import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeRecord,
  encodeRecord,
  type FeatureValue,
  formatEventTime,
  recordFromJson,
  type ViewRecord,
  valueBounds,
  valuesJson,
} from '../../features/online/record';
import { resolveOnlineRequest } from '../../features/serving/feast-request';
import { onlineFeaturesJson } from '../../features/serving/feast-response';
import { catalog } from './fixtures';

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * What Feast serves for a stored value: a NaN is no value (Feast's type map drops `pd.isnull`
 * values when it writes), +/-Infinity the protobuf JSON strings (feast/feature_server_utils.py
 * `_float_to_native`), anything else itself.
 */
function feastValue(value: FeatureValue | undefined): FeatureValue {
  if (value === undefined || Number.isNaN(value)) return null;
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/**
 * The response as Feast's feature server defines it, value by value with no shortcut: the
 * reference whose JSON.stringify the byte writer must equal.
 */
function reference(
  query: ReturnType<typeof resolveOnlineRequest>,
  records: readonly (readonly (ViewRecord | undefined)[])[],
  nowUs: number,
) {
  const names: string[] = [];
  const results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[] = [];
  for (const column of query.joinKeyColumns) {
    names.push(column.name);
    results.push({
      values: [...column.values],
      statuses: column.values.map(() => 'PRESENT'),
      event_timestamps: column.values.map(() => EPOCH),
    });
  }
  query.selections.forEach((selection, s) => {
    selection.featureIndexes.forEach((index, f) => {
      names.push(selection.outputNames[f]!);
      const column = { values: [] as unknown[], statuses: [] as string[], event_timestamps: [] as string[] };
      for (let row = 0; row < query.rows; row++) {
        const record = records[s]![row];
        column.event_timestamps.push(record ? formatEventTime(record.eventTimeUs) : EPOCH);
        const ttlUs = selection.view.ttlUs;
        if (!record) {
          column.values.push(null);
          column.statuses.push('NOT_FOUND');
        } else if (ttlUs > 0 && nowUs - record.eventTimeUs > ttlUs) {
          column.values.push(null);
          column.statuses.push('OUTSIDE_MAX_AGE');
        } else {
          const value = feastValue(record.values[index]);
          column.values.push(value);
          column.statuses.push(value === null ? 'NULL_VALUE' : 'PRESENT');
        }
      }
      results.push(column);
    });
  });
  return { metadata: { feature_names: names }, results };
}

/** Every scalar a record may hold, the awkward ones often: NaN, +/-Infinity, -0, any UTF-16 (lone surrogates too), empty strings, null. */
const value: fc.Arbitrary<FeatureValue> = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 1e21, 5e-324),
  fc.integer(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('"', '\\', ',', '[', ']', '{', '\n', '\u0000', 'é', '😀', '\ud800') }),
  fc.constant(''),
  fc.boolean(),
  fc.constant(null),
);

describe('the JSON response writer', () => {
  const nowUs = Date.UTC(2026, 0, 1) * 1000;

  test('is byte for byte the JSON.stringify of the value-by-value reference, for any records: missing, too old, null, NaN, strings, numbers', () => {
    const services = ['drive_summary', 'drive_live_motion'];
    fc.assert(
      fc.property(
        fc.constantFrom(...services),
        fc.boolean(),
        fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(
          fc.record({
            kind: fc.constantFrom('missing', 'cached', 'cachedBeforeLengths', 'dynamodb', 'memory'),
            ageUs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10_000_000_000 })),
            createdUs: fc.integer({ min: 0, max: 1_000_000 }),
            values: fc.array(value, { maxLength: 12 }),
          }),
        ),
        (service, fullNames, ids, cells) => {
          const query = resolveOnlineRequest(catalog, 'planning', {
            feature_service: service,
            entities: { drive_id: ids },
            full_feature_names: fullNames,
          });
          const records = query.selections.map((selection) =>
            ids.map((): ViewRecord | undefined => {
              const cell = cells.next().value;
              if (cell.kind === 'missing') return undefined;
              const record = {
                eventTimeUs: nowUs - cell.ageUs,
                createdUs: cell.createdUs,
                version: selection.view.version,
                values: cell.values,
              };
              // As the cache hands them over (its bytes), as DynamoDB does (`d`, text), or built in memory.
              if (cell.kind === 'cached')
                return decodeRecord(Buffer.from(encodeRecord(record)), record.version);
              if (cell.kind === 'cachedBeforeLengths')
                return decodeRecord(
                  Buffer.from(
                    `${record.eventTimeUs}|${record.createdUs}|${record.version}|${valuesJson(record.values)}`,
                  ),
                );
              if (cell.kind === 'dynamodb')
                return recordFromJson(
                  record.eventTimeUs,
                  record.createdUs,
                  record.version,
                  valuesJson(record.values),
                );
              return record;
            }),
          );
          const bytes = onlineFeaturesJson(query, records, nowUs);
          const expected = Buffer.from(JSON.stringify(reference(query, records, nowUs)));
          expect(bytes.equals(expected), bytes.toString()).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('join keys echo first, PRESENT with epoch timestamps; a too-old value is withheld', () => {
    const query = resolveOnlineRequest(catalog, 'planning', {
      feature_service: 'drive_live_motion',
      entities: { drive_id: ['d1', 'd2', 'd3'] },
    });
    const version = query.selections[0]!.view.version;
    const stored = (ageUs: number, values: FeatureValue[]) =>
      decodeRecord(Buffer.from(encodeRecord({ eventTimeUs: nowUs - ageUs, createdUs: 1, version, values })));
    const tooOld = query.selections[0]!.view.ttlUs + 1;
    const response = JSON.parse(
      onlineFeaturesJson(
        query,
        [[stored(0, [1.5, null]), stored(tooOld, [2, 3]), undefined]],
        nowUs,
      ).toString(),
    );
    expect(response.metadata.feature_names[0]).toBe('drive_id');
    expect(response.results[0]).toEqual({
      values: ['d1', 'd2', 'd3'],
      statuses: ['PRESENT', 'PRESENT', 'PRESENT'],
      event_timestamps: [EPOCH, EPOCH, EPOCH],
    });
    expect(response.results[1].values).toEqual([1.5, null, null]);
    expect(response.results[1].statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(response.results[2].statuses[0]).toBe('NULL_VALUE');
    expect(response.results[1].event_timestamps).toEqual([
      formatEventTime(nowUs),
      formatEventTime(nowUs - tooOld),
      EPOCH,
    ]);
  });
});

describe('stored values are spliced only when they are flat scalars', () => {
  test('the bounds of any stored values array cut it into the JSON of each value', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 20 }), (values) => {
        const bytes = Buffer.from(`123|456|v|${valuesJson(values)}`);
        const bounds = valueBounds(bytes, bytes.indexOf('['));
        expect(bounds).toBeDefined();
        const tokens = bounds!
          .slice(0, -1)
          .map((start, i) => bytes.toString('utf8', start, bounds![i + 1]! - 1));
        expect(tokens.map((t) => JSON.parse(t))).toEqual(
          values.map(feastValue).map((v) => (Object.is(v, -0) ? 0 : v)),
        );
        expect(decodeRecord(bytes)?.values).toEqual(JSON.parse(valuesJson(values)));
      }),
      { numRuns: 500 },
    );
  });

  test('anything else is parsed instead, and bad JSON still fails', () => {
    for (const text of [
      '[1, 2]',
      '[[1],2]',
      '[{"a":1}]',
      '["a"x]',
      '[1,,2]',
      '"x"',
      '[',
      '[nul]',
      '[nulx]',
      '[1]x',
      '[1x2]',
    ]) {
      expect(valueBounds(Buffer.from(text), 0), text).toBeUndefined();
    }
    expect(decodeRecord('x|1|v|[1]')).toBeUndefined();
    expect(decodeRecord('1|2|v|[1,2]')?.values).toEqual([1, 2]);
    // Lengths that do not fit the JSON are not trusted: the JSON is scanned instead.
    for (const lengths of ['1,1', '3,1', '1', '1,1,1', '', 'x'])
      expect(decodeRecord(`1|2|v|${lengths}|[1,2]`)?.values, lengths).toEqual([1, 2]);
    expect(decodeRecord('1|2|v|1,4|[1,2]x')).toBeUndefined();
    expect(recordFromJson(1, 1, 'v', '[1, "a,b", null]').values).toEqual([1, 'a,b', null]);
    expect(() => recordFromJson(1, 1, 'v', '[1,')).toThrow();
  });
});
