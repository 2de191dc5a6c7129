import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { listQuerySchema } from '../jobs/service';
import { jobSpecSchema } from '../jobs/spec';
import { JOB_STATES } from '../jobs/states';
import { logsQuerySchema } from './logs-query';

/**
 * The OpenAPI 3 document, generated from the same zod schemas the handlers validate with.
 * `npm run openapi` writes it to api/openapi.json; a test keeps the committed copy current.
 */
export function openApiDocument() {
  const registry = new OpenAPIRegistry();
  const spec = registry.register('JobSpec', jobSpecSchema);
  const fieldError = z.object({ field: z.string(), reason: z.string() });
  const error = registry.register(
    'Error',
    z.object({ error: z.string(), message: z.string(), fields: z.array(fieldError) }).openapi('Error'),
  );
  const reason = z.object({ code: z.string(), message: z.string() });
  const job = registry.register(
    'Job',
    z
      .object({
        id: z.string(),
        team: z.string(),
        name: z.string(),
        state: z.enum(JOB_STATES),
        priorityClass: z.string(),
        preemptible: z.boolean(),
        backend: z.string(),
        attempt: z.number().int(),
        submittedAt: z.string(),
        updatedAt: z.string(),
        startedAt: z.string().optional(),
        endedAt: z.string().optional(),
        pool: z.string().optional(),
        pendingReason: reason.optional(),
        stateReason: z.string().optional(),
        exitCode: z.number().int().optional(),
        preemptions: z.number().int(),
        cancelRequested: z.boolean().optional(),
        spec: jobSpecSchema,
      })
      .openapi('Job'),
  );
  // Statuses any route may answer, besides its own: the caller's identity, the Host guard
  // (locally) or IAM (API Gateway), throttling, and headers larger than the server takes.
  const gatewayMessage = z.object({ message: z.string() }).passthrough();
  const refusals = {
    401: {
      description: 'The caller is not a member of any team',
      content: { 'application/json': { schema: error } },
    },
    403: {
      description:
        'Refused before the route ran: a Host header other than 127.0.0.1 or localhost (local runtime), or a request IAM denies (API Gateway)',
      content: { 'application/json': { schema: gatewayMessage } },
    },
    429: {
      description: 'Throttled by API Gateway or its WAF rule',
      content: { 'application/json': { schema: gatewayMessage } },
    },
    431: { description: 'Request headers larger than the server accepts' },
  };
  const errorStatus = (description: string) => ({
    description,
    content: { 'application/json': { schema: error } },
  });
  const invalid = { 400: errorStatus('Invalid request: each entry of fields names a field and why') };
  const notFound = { 404: errorStatus('No such job for your team') };
  const errors = { ...invalid, ...notFound, ...refusals };
  const jobResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: z.object({ job }) } },
  });
  const id = z.object({ id: z.string().regex(/^[a-z0-9]{1,64}$/) });

  registry.registerPath({
    method: 'post',
    path: '/jobs',
    summary: 'Submit a job',
    request: { body: { content: { 'application/json': { schema: spec } }, required: true } },
    responses: {
      201: jobResponse('Created'),
      200: jobResponse('Replay of an earlier submission with the same idempotencyKey'),
      409: errorStatus('idempotencyKey reused with a different spec'),
      413: errorStatus('Body too large'),
      ...invalid,
      ...refusals,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/jobs',
    summary: "List your team's jobs, newest first",
    request: { query: listQuerySchema.extend({ team: z.string().optional() }) },
    responses: {
      200: {
        description: 'A page of jobs',
        content: {
          'application/json': { schema: z.object({ jobs: z.array(job), nextToken: z.string().optional() }) },
        },
      },
      ...invalid,
      ...refusals,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/jobs/{id}',
    summary: 'Get a job',
    request: { params: id },
    responses: { 200: jobResponse('The job'), ...errors },
  });
  registry.registerPath({
    method: 'delete',
    path: '/jobs/{id}',
    summary: 'Cancel a job',
    request: { params: id },
    responses: {
      202: jobResponse('Cancelled, or cancel requested while it runs'),
      409: errorStatus('Already finished, or changed while the cancel ran'),
      ...errors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/jobs/{id}/logs',
    summary:
      "Read whole lines of an attempt's log from an offset (file bytes locally, CloudWatch log events on AWS)",
    request: {
      params: id,
      query: logsQuerySchema,
    },
    responses: {
      200: {
        description: 'Whole lines from offset; pass nextOffset back to continue',
        content: {
          'application/json': {
            schema: z.object({
              lines: z.array(z.string()),
              nextOffset: z.number().int(),
              complete: z.boolean(),
            }),
          },
        },
      },
      ...errors,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/queues',
    summary: 'Per team: pending, running, GPUs in use against quota, and why the head jobs wait',
    responses: {
      200: {
        description: 'Queue report',
        content: { 'application/json': { schema: z.object({}).passthrough() } },
      },
      ...refusals,
    },
  });

  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Drivetrain job API',
      version: '1.0.0',
      description: 'Submit GPU jobs and see where they stand. Authenticated with AWS IAM (SigV4).',
    },
  });
}
