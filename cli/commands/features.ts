import { resolve } from 'node:path';
import { REGISTRY } from '../../features/catalog';
import { parseCommandArgs } from '../args';
import { type Command, printJson, printLines } from '../command';
import { EXIT, UsageError } from '../errors';
import { featureApi } from '../features-client';
import type { CliIo } from '../io';
import { renderTable } from '../table';

const API_OPTION = { 'features-api': { type: 'string' } } as const;
/** Join keys typed Int64 in the registry: their values go as JSON numbers, the rest as strings. */
const INT_KEYS = new Set(
  REGISTRY.entities.flatMap((e) => e.joinKeys.filter((k) => k.type === 'Int64').map((k) => k.name)),
);

interface ServicesView {
  readonly project: string;
  readonly registryHash: string;
  readonly featureServices: {
    name: string;
    description: string;
    views: {
      name: string;
      entity: string;
      joinKeys: string[];
      version: string;
      ttlSeconds: number;
      features: string[];
    }[];
  }[];
}

interface OnlineResponse {
  readonly metadata: { feature_names: string[] };
  readonly results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
}

export const featuresCommand: Command = {
  name: 'features',
  summary: 'feature store: list services, get online features, materialize, build training sets',
  help: `Usage: drivetrain features <list|get|materialize|training-set> [options]

  features list                                   feature services you may read, with their views
  features get --service S --entity k=v [...]     online features of entities (repeat --entity)
      [--features view:feature,...]               instead of a service
      [--full-names]                              view__feature column names
  features materialize                            run materialization now (local runtime): progress,
                                                  then the views skipped because nothing changed
  features training-set --entities file.parquet   point-in-time training set (local runtime)
      (--service S | --features view:f,...) [--out dir] [--pins manifest.json]

Options:
  --features-api <url>  feature API (env DRIVETRAIN_FEATURES_API, default http://127.0.0.1:8788)`,

  async run(argv, io) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'list':
        return list(rest, io);
      case 'get':
        return get(rest, io);
      case 'materialize':
        return materialize(rest, io);
      case 'training-set':
        return trainingSet(rest, io);
      default:
        throw new UsageError(
          `usage: drivetrain features <list|get|materialize|training-set>\nSee 'drivetrain features --help'.`,
        );
    }
  },
};

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('features list', argv, API_OPTION);
  const body = await featureApi(values, io).json<ServicesView>('GET', '/feature-services');
  if (values.json) printJson(io, body);
  else
    printLines(io, [
      `registry ${body.registryHash} (project ${body.project})`,
      ...renderTable(
        ['SERVICE', 'VIEW', 'ENTITY', 'FEATURES', 'TTL', 'VERSION'],
        body.featureServices.flatMap((service) =>
          service.views.map((view) => [
            service.name,
            view.name,
            `${view.entity} (${view.joinKeys.join(', ')})`,
            String(view.features.length),
            view.ttlSeconds === 0 ? 'none' : `${view.ttlSeconds}s`,
            view.version,
          ]),
        ),
      ),
    ]);
  return EXIT.ok;
}

async function get(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('features get', argv, {
    ...API_OPTION,
    service: { type: 'string' },
    features: { type: 'string' },
    entity: { type: 'string', multiple: true },
    'full-names': { type: 'boolean', default: false },
  });
  if (!values.service === !values.features)
    throw new UsageError('features get: name --service or --features, not both');
  const entities: Record<string, (string | number)[]> = {};
  for (const pair of values.entity ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--entity ${pair}: expected join_key=value`);
    const [key, raw] = [pair.slice(0, at), pair.slice(at + 1)];
    entities[key] = [...(entities[key] ?? []), INT_KEYS.has(key) ? Number(raw) : raw];
  }
  if (Object.keys(entities).length === 0)
    throw new UsageError('features get: give at least one --entity join_key=value');
  const body = await featureApi(values, io).json<OnlineResponse>('POST', '/get-online-features', {
    ...(values.service ? { feature_service: values.service } : { features: values.features!.split(',') }),
    entities,
    full_feature_names: values['full-names'],
  });
  if (values.json) printJson(io, body);
  else printLines(io, renderOnline(body));
  return EXIT.ok;
}

/** One row per feature; per entity its value and, when not PRESENT, its status. */
export function renderOnline(body: OnlineResponse): string[] {
  const rows = body.results[0]?.values.length ?? 0;
  const keyColumns = body.results.filter(
    (r) =>
      r.event_timestamps.every((t) => t === '1970-01-01T00:00:00Z') &&
      r.statuses.every((s) => s === 'PRESENT'),
  );
  const entityLabels = Array.from({ length: rows }, (_, row) =>
    keyColumns.map((c) => String(c.values[row])).join('/'),
  );
  const features = body.metadata.feature_names
    .map((name, i) => ({ name, result: body.results[i]! }))
    .filter((f) => !keyColumns.includes(f.result));
  return renderTable(
    ['FEATURE', ...entityLabels.flatMap((label) => [label, 'STATUS', 'EVENT TIME'])],
    features.map(({ name, result }) => [
      name,
      ...Array.from({ length: rows }, (_, row) => [
        result.values[row] === null ? '-' : formatValue(result.values[row]),
        result.statuses[row]!,
        result.statuses[row] === 'NOT_FOUND' ? '-' : result.event_timestamps[row]!,
      ]).flat(),
    ]),
  );
}

function formatValue(value: unknown): string {
  return typeof value === 'number' && !Number.isInteger(value)
    ? value.toPrecision(6).replace(/\.?0+$/, '')
    : String(value);
}

async function materialize(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('features materialize', argv, API_OPTION);
  let failed = false;
  for await (const event of featureApi(values, io).lines('POST', '/materialize')) {
    if (values.json) {
      io.stdout(JSON.stringify(event));
      continue;
    }
    if (event.type === 'view') {
      const o = event.outcome as {
        view: string;
        action: string;
        reason: string;
        rows_written: number;
        entities_recomputed: number;
        seconds: number;
      };
      const work =
        o.action === 'skipped' || o.action === 'empty'
          ? ''
          : `: ${o.rows_written} rows for ${o.entities_recomputed} entities`;
      io.stdout(`${o.view.padEnd(22)} ${o.action.padEnd(11)} ${o.reason}${work} (${o.seconds.toFixed(1)} s)`);
    } else if (event.type === 'online') {
      const r = event.report as { rows: number; written: number; stale: number; batches: number };
      io.stdout(
        `${String(event.view).padEnd(22)} online      batch ${r.batches}: ${r.written} written, ${r.stale} stale of ${r.rows} rows`,
      );
    } else if (event.type === 'done') {
      const skipped = event.skipped as string[];
      io.stdout(
        skipped.length
          ? `skipped (no new input snapshots, same version): ${skipped.join(', ')}`
          : 'skipped: none',
      );
    } else if (event.type === 'error') {
      io.stderr(String(event.message));
      failed = true;
    }
  }
  return failed ? EXIT.api : EXIT.ok;
}

async function trainingSet(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('features training-set', argv, {
    ...API_OPTION,
    entities: { type: 'string' },
    service: { type: 'string' },
    features: { type: 'string' },
    out: { type: 'string' },
    pins: { type: 'string' },
  });
  if (!values.entities) throw new UsageError('features training-set: --entities file.parquet is required');
  if (!values.service === !values.features)
    throw new UsageError('features training-set: name --service or --features');
  const entities = resolve(values.entities);
  const out = resolve(values.out ?? `${entities.replace(/\.parquet$/, '')}-training-set`);
  const manifest = await featureApi(values, io).json<Record<string, unknown>>('POST', '/training-sets', {
    entities,
    out,
    ...(values.service ? { feature_service: values.service } : { features: values.features!.split(',') }),
    ...(values.pins ? { pins: resolve(values.pins) } : {}),
  });
  if (values.json) printJson(io, manifest);
  else
    printLines(io, [
      `training set: ${out} (${manifest.rows} rows)`,
      `manifest: ${out}.manifest.json (pass it as --pins to get the same set again)`,
      ...Object.entries(manifest.snapshots as Record<string, string>).map(
        ([view, snapshot]) => `  ${view} @ snapshot ${snapshot}`,
      ),
    ]);
  return EXIT.ok;
}
