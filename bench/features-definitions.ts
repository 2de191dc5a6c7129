import type { FeatureDefinitionsInput } from '../features/definitions/schema';

export const BENCH_VIEWS = 5;
export const BENCH_FEATURES_PER_VIEW = 10;

/** bench:features' feature set: one entity, five views of ten Float64 features, one service of all fifty. */
export const benchDefinitions: FeatureDefinitionsInput = {
  project: 'drivetrain',
  entities: [{ name: 'bench_entity', joinKeys: [{ name: 'entity_id', type: 'String' }] }],
  featureViews: Array.from({ length: BENCH_VIEWS }, (_, v) => ({
    name: `bench_view_${v}`,
    entity: 'bench_entity',
    sources: ['can_signals' as const],
    // Only hashed into the version: benchmark views are written directly, never materialized.
    transform: 'drive_motion',
    ttlSeconds: 0,
    // The data does not change during the run: every read after the load is a cache hit.
    cacheTtlSeconds: 86_400,
    features: Array.from({ length: BENCH_FEATURES_PER_VIEW }, (_, f) => ({
      name: `v${v}_f${f}`,
      type: 'Float64' as const,
    })),
  })),
  featureServices: [
    {
      name: 'bench_service',
      views: Array.from({ length: BENCH_VIEWS }, (_, v) => ({ view: `bench_view_${v}` })),
      teams: ['planning'],
    },
  ],
};
