import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { JobNotFound, type LogSource, TransitionConflict } from '../jobs/ports';
import { type QueueReport, queueReportFor } from '../jobs/queues';
import { IdempotencyConflict, type JobService, NotCancellable, ValidationFailed } from '../jobs/service';
import { fieldErrors } from '../jobs/spec';
import { InvalidPageToken } from '../jobs/store/dynamodb-job-store';
import { errorBody } from './errors';
import type { TeamResolver } from './identity';
import { jobView } from './job-view';
import { logsQuerySchema } from './logs-query';
import { openApiDocument } from './openapi';

export interface ApiOptions {
  readonly service: JobService;
  readonly resolveTeam: TeamResolver;
  readonly queues: () => Promise<QueueReport>;
  readonly logs?: LogSource;
  /**
   * Host names (without port) the server answers to; others get 403. The local server lists
   * only loopback names, so a web page cannot reach it through DNS rebinding. Unset behind
   * API Gateway, which routes by its own host name.
   */
  readonly allowedHosts?: readonly string[];
}

/** Loopback names the local server answers to. */
export const LOCAL_HOSTS = ['127.0.0.1', 'localhost'] as const;

/**
 * Bounds the work a hostile body can cause. Real specs are a few KB; anything near this
 * (long inline scripts, large env) belongs in the image or in S3, not in the job record.
 */
export const MAX_BODY_BYTES = 64 * 1024;

type Env = { Variables: { team: string } };

/** The routes and their methods: another method on one of these paths is a 405 with `Allow`. */
const ROUTES: readonly (readonly [RegExp, readonly string[]])[] = [
  [/^\/jobs$/, ['GET', 'POST']],
  [/^\/jobs\/[^/]+$/, ['GET', 'DELETE']],
  [/^\/jobs\/[^/]+\/logs$/, ['GET']],
  [/^\/queues$/, ['GET']],
];

/** The job API as one HTTP app: served by API Gateway + Lambda and by the local Node server alike. */
export function createApi(options: ApiOptions) {
  const { service } = options;
  const app = new Hono<Env>();

  if (options.allowedHosts) app.use('*', hostGuard(options.allowedHosts));
  const openApi = openApiDocument();
  app.get('/openapi.json', (c) => c.json(openApi));
  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use('/jobs/*', authenticate(options.resolveTeam));
  app.use('/jobs', authenticate(options.resolveTeam));
  app.use('/queues', authenticate(options.resolveTeam));

  app.post(
    '/jobs',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(
          errorBody('PayloadTooLarge', `body exceeds ${MAX_BODY_BYTES} bytes`, [
            { field: '(body)', reason: 'too large' },
          ]),
          413,
        ),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json(
          errorBody('ValidationError', 'body is not valid JSON', [
            { field: '(body)', reason: 'not valid JSON' },
          ]),
          400,
        );
      }
      const { job, created } = await service.submit(c.get('team'), body);
      if (!created) c.header('Idempotent-Replayed', 'true');
      return c.json({ job: jobView(job) }, created ? 201 : 200);
    },
  );

  app.get('/jobs', async (c) => {
    const { team: requested, ...query } = c.req.query();
    const team = c.get('team');
    if (requested !== undefined && requested !== team) {
      return c.json(
        errorBody('Forbidden', `you act as team ${team}`, [{ field: 'team', reason: `not your team` }]),
        403,
      );
    }
    const page = await service.list(team, query);
    return c.json({ jobs: page.jobs.map(jobView), ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
  });

  app.get('/jobs/:id', async (c) =>
    c.json({ job: jobView(await service.get(c.get('team'), c.req.param('id'))) }),
  );

  app.delete('/jobs/:id', async (c) =>
    c.json({ job: jobView(await service.cancel(c.get('team'), c.req.param('id'))) }, 202),
  );

  app.get('/jobs/:id/logs', async (c) => {
    const job = await service.get(c.get('team'), c.req.param('id'));
    const query = logsQuerySchema.safeParse(c.req.query());
    if (!query.success) throw new ValidationFailed(fieldErrors(query.error));
    const { attempt = job.attempt, offset = 0 } = query.data;
    if (attempt > job.attempt) {
      return c.json(
        errorBody('NotFound', 'no such attempt', [
          { field: 'attempt', reason: `attempts are 0..${job.attempt}` },
        ]),
        404,
      );
    }
    if (!options.logs) {
      return c.json(
        errorBody('NotFound', 'logs are in CloudWatch Logs for this deployment', [
          { field: 'id', reason: 'no log source' },
        ]),
        404,
      );
    }
    return c.json(await options.logs.read(job.id, attempt, offset));
  });

  app.get('/queues', async (c) => c.json(queueReportFor(await options.queues(), c.get('team'))));

  app.notFound((c) => {
    const allow = ROUTES.find(([pattern]) => pattern.test(c.req.path))?.[1];
    if (allow) {
      c.header('Allow', allow.join(', '));
      return c.json(
        errorBody('MethodNotAllowed', `${c.req.method} is not a method of ${c.req.path}`, [
          { field: 'method', reason: `one of ${allow.join(', ')}` },
        ]),
        405,
      );
    }
    return c.json(
      errorBody('NotFound', `no route ${c.req.method} ${c.req.path}`, [
        { field: 'path', reason: 'unknown route' },
      ]),
      404,
    );
  });

  app.onError((error, c) => {
    if (error instanceof ValidationFailed)
      return c.json(errorBody('ValidationError', error.message, error.fields), 400);
    if (error instanceof InvalidPageToken)
      return c.json(
        errorBody('ValidationError', error.message, [{ field: 'nextToken', reason: 'invalid' }]),
        400,
      );
    if (error instanceof JobNotFound)
      return c.json(errorBody('NotFound', error.message, [{ field: 'id', reason: 'no such job' }]), 404);
    if (error instanceof IdempotencyConflict) {
      return c.json(
        errorBody('Conflict', error.message, [
          { field: 'idempotencyKey', reason: 'reused with a different spec' },
        ]),
        409,
      );
    }
    if (error instanceof TransitionConflict)
      return c.json(
        errorBody('Conflict', 'the job changed while the request ran; try again', [
          { field: 'id', reason: `job is ${error.actual ?? 'changing'}` },
        ]),
        409,
      );
    if (error instanceof NotCancellable)
      return c.json(
        errorBody('Conflict', error.message, [{ field: 'id', reason: `job is ${error.job.state}` }]),
        409,
      );
    console.error(error);
    return c.json(errorBody('InternalError', 'the request could not be completed', []), 500);
  });

  return app;
}

function hostGuard(allowed: readonly string[]) {
  const names = new Set(allowed.map((name) => name.toLowerCase()));
  return createMiddleware<Env>(async (c, next) => {
    const host = c.req.header('host') ?? '';
    // `name:port`; a bracketed IPv6 literal keeps its brackets.
    const name = (
      host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!
    ).toLowerCase();
    if (names.has(name)) return next();
    return c.json(
      errorBody('Forbidden', 'this server answers only to its loopback names', [
        { field: 'Host', reason: `must be one of ${[...names].join(', ')}` },
      ]),
      403,
    );
  });
}

function authenticate(resolveTeam: TeamResolver) {
  return createMiddleware<Env>(async (c, next) => {
    const team = resolveTeam(c);
    if (team) {
      c.set('team', team);
      return next();
    }
    return c.json(
      errorBody('Unauthorized', 'the caller is not a member of any team', [
        { field: 'team', reason: 'unknown caller' },
      ]),
      401,
    );
  });
}
