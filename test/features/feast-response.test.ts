import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeRecord,
  encodeRecord,
  type FeatureValue,
  formatEventTime,
  recordFromJson,
  type ViewRecord,
  valueTokens,
} from '../../features/online/record';
import { resolveOnlineRequest } from '../../features/serving/feast-request';
import { onlineFeaturesJson } from '../../features/serving/feast-response';
import { catalog } from './fixtures';

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * The response as Feast's feature server defines it, value by value with no shortcut: the
 * reference the spliced JSON writer must equal.
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
          const value = record.values[index] ?? null;
          column.values.push(value);
          column.statuses.push(value === null ? 'NULL_VALUE' : 'PRESENT');
        }
      }
      results.push(column);
    });
  });
  return { metadata: { feature_names: names }, results };
}

const value: fc.Arbitrary<FeatureValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
);

describe('the JSON response writer', () => {
  const nowUs = Date.UTC(2026, 0, 1) * 1000;

  test('equals the value-by-value reference for any records: missing, too old, null, strings, numbers', () => {
    const services = ['drive_summary', 'drive_live_motion'];
    fc.assert(
      fc.property(
        fc.constantFrom(...services),
        fc.boolean(),
        fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(
          fc.record({
            kind: fc.constantFrom('missing', 'stored', 'parsed'),
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
              // As the cache and the store hand them over (text kept), or as a push builds them.
              return cell.kind === 'stored' ? decodeRecord(encodeRecord(record)) : record;
            }),
          );
          const text = onlineFeaturesJson(query, records, nowUs);
          // Compared as JSON: the wire has no -0 (JSON.stringify writes it as 0).
          expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(reference(query, records, nowUs))));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('stored values are spliced only when they are flat scalars', () => {
  test('the tokens of any JSON.stringify of scalars parse back to the values', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 20 }), (values) => {
        const tokens = valueTokens(JSON.stringify(values));
        expect(tokens).toBeDefined();
        expect(tokens!.map((t) => JSON.parse(t))).toEqual(values.map((v) => (Object.is(v, -0) ? 0 : v)));
      }),
      { numRuns: 500 },
    );
  });

  test('anything else is parsed instead, and bad JSON still fails', () => {
    for (const text of ['[1, 2]', '[[1],2]', '[{"a":1}]', '["a"x]', '[1,,2]', '"x"', '[', '[1.2.3e]x']) {
      expect(valueTokens(text), text).toBeUndefined();
    }
    expect(recordFromJson(1, 1, 'v', '[1, "a,b", null]').values).toEqual([1, 'a,b', null]);
    expect(() => recordFromJson(1, 1, 'v', '[1,')).toThrow();
  });
});
