import { z } from 'zod';

/**
 * Feature definitions: the one source of truth for the online table and cache layout (CDK),
 * the Spark materialization jobs (which read the registry artifact built from these) and the
 * serving runtime. Names and types follow Feast so that Feast's client sees familiar objects.
 */

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower-case letters, digits and underscores, starting with a letter');

/** Feast's primitive value types (feast.types), as the feature server returns them in JSON. */
export const VALUE_TYPES = [
  'Int32',
  'Int64',
  'Float32',
  'Float64',
  'String',
  'Bool',
  'UnixTimestamp',
] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** Join keys are strings or integers: the types Feast allows for entity keys. */
export const JOIN_KEY_TYPES = ['String', 'Int64'] as const;

/** The ETL pillar's Iceberg tables (spark/drivetrain_spark/tables.py) that features read. */
export const SOURCE_TABLES = ['can_signals', 'imu', 'events', 'frames'] as const;
export type SourceTable = (typeof SOURCE_TABLES)[number];

export const entitySchema = z
  .object({
    name,
    description: z.string().max(500).default(''),
    joinKeys: z
      .array(z.object({ name, type: z.enum(JOIN_KEY_TYPES) }).strict())
      .min(1)
      .max(4),
  })
  .strict();

export const featureSchema = z
  .object({
    name,
    type: z.enum(VALUE_TYPES),
    description: z.string().max(500).default(''),
  })
  .strict();

export const featureViewSchema = z
  .object({
    name,
    description: z.string().max(1000).default(''),
    /** The entity whose join keys identify a row (one entity per view keeps one item per key). */
    entity: name,
    features: z.array(featureSchema).min(1).max(500),
    /** ETL tables the transform reads, by name in the Iceberg catalog's `sensor` namespace. */
    sources: z.array(z.enum(SOURCE_TABLES)).min(1),
    /**
     * A Python module in `spark/drivetrain_spark/features/transforms/` with a `transform(inputs)`
     * function: its source is hashed into the view's version, so editing it recomputes this view.
     */
    transform: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a module name'),
    /** Values older than this are served as OUTSIDE_MAX_AGE; 0 means they never expire (as in Feast). */
    ttlSeconds: z
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 86_400),
    /** Materialized to the online store and served; offline-only views are for training sets. */
    online: z.boolean().default(true),
    /** How long a cached copy may be served before it is read from DynamoDB again. */
    cacheTtlSeconds: z.number().int().min(1).max(86_400).default(300),
    tags: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const featureServiceSchema = z
  .object({
    name,
    description: z.string().max(1000).default(''),
    /** Views served together, each with all its features or the listed ones. */
    views: z.array(z.object({ view: name, features: z.array(name).min(1).optional() }).strict()).min(1),
    /** Teams that may read this service (and push to its views) through the feature API. */
    teams: z.array(z.string()).min(1),
  })
  .strict();

export const definitionsSchema = z
  .object({
    project: name,
    entities: z.array(entitySchema).min(1),
    featureViews: z.array(featureViewSchema).min(1),
    featureServices: z.array(featureServiceSchema).default([]),
  })
  .strict()
  .superRefine((defs, ctx) => {
    const unique = (path: string, names: string[]) => {
      const seen = new Set<string>();
      names.forEach((n, i) => {
        if (seen.has(n)) ctx.addIssue({ code: 'custom', path: [path, i, 'name'], message: `duplicate ${n}` });
        seen.add(n);
      });
    };
    unique(
      'entities',
      defs.entities.map((e) => e.name),
    );
    unique(
      'featureViews',
      defs.featureViews.map((v) => v.name),
    );
    unique(
      'featureServices',
      defs.featureServices.map((s) => s.name),
    );
    const entities = new Map(defs.entities.map((e) => [e.name, e]));
    const views = new Map(defs.featureViews.map((v) => [v.name, v]));
    defs.featureViews.forEach((view, i) => {
      const entity = entities.get(view.entity);
      if (!entity) {
        ctx.addIssue({
          code: 'custom',
          path: ['featureViews', i, 'entity'],
          message: `unknown entity ${view.entity}`,
        });
        return;
      }
      const reserved = new Set([...entity.joinKeys.map((k) => k.name), 'event_timestamp', 'created']);
      const featureNames = view.features.map((f) => f.name);
      view.features.forEach((feature, j) => {
        if (reserved.has(feature.name))
          ctx.addIssue({
            code: 'custom',
            path: ['featureViews', i, 'features', j, 'name'],
            message: `${feature.name} is a join key or timestamp column`,
          });
        if (featureNames.indexOf(feature.name) !== j)
          ctx.addIssue({
            code: 'custom',
            path: ['featureViews', i, 'features', j, 'name'],
            message: `duplicate feature ${feature.name}`,
          });
      });
    });
    defs.featureServices.forEach((service, i) => {
      service.views.forEach((ref, j) => {
        const view = views.get(ref.view);
        if (!view) {
          ctx.addIssue({
            code: 'custom',
            path: ['featureServices', i, 'views', j, 'view'],
            message: `unknown feature view ${ref.view}`,
          });
          return;
        }
        if (!view.online)
          ctx.addIssue({
            code: 'custom',
            path: ['featureServices', i, 'views', j, 'view'],
            message: `${ref.view} is offline-only and cannot be served`,
          });
        const known = new Set(view.features.map((f) => f.name));
        (ref.features ?? []).forEach((feature, k) => {
          if (!known.has(feature))
            ctx.addIssue({
              code: 'custom',
              path: ['featureServices', i, 'views', j, 'features', k],
              message: `${ref.view} has no feature ${feature}`,
            });
        });
      });
    });
  });

export type EntityDefinition = z.infer<typeof entitySchema>;
export type FeatureDefinition = z.infer<typeof featureSchema>;
export type FeatureViewDefinition = z.infer<typeof featureViewSchema>;
export type FeatureServiceDefinition = z.infer<typeof featureServiceSchema>;
export type FeatureDefinitions = z.infer<typeof definitionsSchema>;
export type FeatureDefinitionsInput = z.input<typeof definitionsSchema>;

/** Parses and validates definitions; errors name the field path. */
export function parseDefinitions(input: FeatureDefinitionsInput): FeatureDefinitions {
  const result = definitionsSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid feature definitions:\n  ${problems.join('\n  ')}`);
  }
  return result.data;
}
