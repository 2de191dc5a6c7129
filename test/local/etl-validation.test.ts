import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { gibToBytes } from '../../config/data';
import { etlPaths, LOCAL_NAMES } from '../../local/etl/ingest-runner';
import { startLocalEtl } from '../../local/etl/runtime';
import { localEtlSettings } from '../../local/etl/settings';
import { RAW_SUFFIXES } from '../../step-functions/ingest';

/**
 * The workflow's object checks against the contract, written independently of the ASL:
 * `raw/<vehicle_id>/<drive_id>/<name>.<suffix>` with an ingest suffix, not empty, not larger
 * than maxObjectGiB; a `metadata.yaml` is a .db3's companion. Generated keys and sizes.
 */
type Verdict = 'accepted' | 'companion' | 'empty' | 'too-large' | 'unsupported-suffix' | 'bad-layout';

function expected(key: string, size: number, maxBytes: number): Verdict {
  if (key.endsWith('/metadata.yaml')) return 'companion';
  if (size === 0) return 'empty';
  if (size > maxBytes) return 'too-large';
  if (!RAW_SUFFIXES.some((suffix) => key.endsWith(suffix))) return 'unsupported-suffix';
  if (!key.startsWith('raw/') || key.split('/').length !== 4) return 'bad-layout';
  return 'accepted';
}

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/);
const objectArb = fc.record({
  top: fc.constantFrom('raw', 'raw', 'raw', 'upload'),
  vehicle: segment,
  drive: segment,
  extra: fc.option(segment, { nil: undefined }),
  suffix: fc.constantFrom(...RAW_SUFFIXES, '.txt', '.mcap.tmp', '.MCAP', '.parquet', 'metadata.yaml'),
  size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2_000 })),
});

describe('object checks, generated keys', () => {
  test('each object is accepted, a companion, or rejected with the reason the contract gives', async () => {
    const maxObjectGiB = 1_500 / 1024 ** 3; // about 1.5 kB, so generated sizes cross it
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(objectArb, { minLength: 1, maxLength: 25, selector: (o) => o.vehicle }),
        async (drawn) => {
          const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-etl-checks-'));
          const base = localEtlSettings({}, { dataDir });
          const etl = await startLocalEtl({
            settings: {
              ...base,
              data: { ...base.data, maxObjectGiB },
              // Accepted objects go no further than a job that cannot start.
              job: { ...base.job, module: 'drivetrain_spark.jobs.no_such_job' },
            },
            watch: false,
            persist: false,
            retryIntervalMs: 1,
          });
          try {
            const raw = join(etlPaths(dataDir).buckets, LOCAL_NAMES.raw);
            // Leaf names are unique per object, so no key is another's folder.
            const objects = drawn.map((o, i) => {
              const name = o.suffix === 'metadata.yaml' ? `o${i}/metadata.yaml` : `o${i}${o.suffix}`;
              const key = [o.top, o.vehicle, o.drive, ...(o.extra ? [o.extra] : []), name].join('/');
              const path = join(raw, ...key.split('/'));
              mkdirSync(dirname(path), { recursive: true });
              writeFileSync(path, Buffer.alloc(o.size, 0x4d));
              return { key, verdict: expected(key, o.size, gibToBytes(maxObjectGiB)) };
            });

            const outcome = await etl.workflow!.start({ keys: objects.map((o) => o.key) }).done;
            const record = await etl.runs.run(outcome.name);

            const rejected = join(
              etlPaths(dataDir).buckets,
              LOCAL_NAMES.quarantine,
              'rejected',
              outcome.name,
            );
            for (const { key, verdict } of objects) {
              const reasonFile = join(rejected, ...`${key}.reason.json`.split('/'));
              const reason = existsSync(reasonFile)
                ? JSON.parse(readFileSync(reasonFile, 'utf8')).reason
                : undefined;
              const seen = ['accepted', 'companion'].includes(verdict) ? undefined : verdict;
              expect(reason, key).toBe(seen);
            }
            expect(record?.acceptedObjects).toBe(objects.filter((o) => o.verdict === 'accepted').length);
            expect(record?.rejectedObjects).toBe(
              objects.filter((o) => !['accepted', 'companion'].includes(o.verdict)).length,
            );
          } finally {
            await etl.close();
            rmSync(dataDir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 4, seed: 20_241_201 },
    );
  });
});
