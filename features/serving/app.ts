import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { OnlineReader } from '../online/online-reader';
import { errorResponseBody, FeatureRequestError } from './feast-errors';
import type { FeatureServing } from './feature-service';
import { jsonBody } from './request-body';

/** Finds the caller's team (api/identity.ts resolvers), or undefined for an unknown caller. */
export type FeatureTeamResolver = (c: Context) => string | undefined;

export interface FeatureApiOptions {
  readonly serving: FeatureServing;
  readonly reader: OnlineReader;
  readonly resolveTeam: FeatureTeamResolver;
}

export const MAX_READ_BODY_BYTES = 256 * 1024;
export const MAX_PUSH_BODY_BYTES = 4 * 1024 * 1024;
const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * The feature API, Feast's feature-server routes over Drivetrain's store: served by API
 * Gateway + Lambda and by the local runtime alike.
 */
export function createFeatureApi(options: FeatureApiOptions) {
  const { serving } = options;
  const app = new Hono();

  const fail = (c: Context, error: FeatureRequestError) =>
    c.json(errorResponseBody(error) as object, error.status);
  const team = (c: Context) => {
    const found = options.resolveTeam(c);
    if (!found)
      throw new FeatureRequestError(401, 'the caller is not a member of any team', [
        { field: 'team', reason: 'unknown caller' },
      ]);
    return found;
  };
  app.get('/health', (c) => c.body(null, 200));

  app.post('/get-online-features', async (c) => {
    const caller = team(c);
    const body = await jsonBody(c, MAX_READ_BODY_BYTES);
    // Under @hono/node-server the bytes go to the socket as they are, from a reused buffer that
    // is given back once the response has finished (or closed); elsewhere (Lambda) a copy.
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (!outgoing) return c.body(await serving.getOnlineFeaturesJson(caller, body), 200, JSON_HEADERS);
    const lent = await serving.getOnlineFeaturesBytes(caller, body);
    finished(outgoing, lent.release);
    return c.body(lent.bytes, 200, JSON_HEADERS);
  });

  app.post('/push', async (c) => c.json(await serving.push(team(c), await jsonBody(c, MAX_PUSH_BODY_BYTES))));

  /** What the caller may read: its services with their views and features (`drivetrain features list`). */
  app.get('/feature-services', (c) => {
    const caller = team(c);
    const { catalog } = serving;
    return c.json({
      project: catalog.registry.project,
      registryHash: catalog.registry.hash,
      featureServices: catalog.servicesOf(caller).map((service) => ({
        name: service.name,
        description: service.description,
        views: service.views.map((ref) => {
          const view = catalog.views.get(ref.view)!;
          return {
            name: ref.view,
            entity: view.entity.name,
            joinKeys: view.entity.joinKeys.map((k) => k.name),
            version: view.version,
            ttlSeconds: view.definition.ttlSeconds,
            features: ref.features,
          };
        }),
      })),
    });
  });

  app.get('/cache-stats', (c) => c.json({ ...options.reader.stats, hitRate: options.reader.hitRate() }));

  app.notFound((c) =>
    fail(
      c,
      new FeatureRequestError(404, `no route ${c.req.method} ${c.req.path}`, [
        { field: 'path', reason: 'unknown route' },
      ]),
    ),
  );
  app.onError((error, c) => {
    if (error instanceof FeatureRequestError) return fail(c, error);
    console.error(error);
    return c.json({ error: 'InternalError', message: 'the request could not be completed', fields: [] }, 500);
  });
  return app;
}
