import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { errorResponseBody, FeatureRequestError } from '../../features/serving/feast-errors';
import { jsonBody } from '../../features/serving/request-body';

const MAX = 1_000;
let url: string;
let close: () => void;
beforeAll(async () => {
  const app = new Hono();
  app.post('/echo', async (c) => c.json({ body: await jsonBody(c, MAX) }));
  app.onError((error, c) =>
    error instanceof FeatureRequestError
      ? c.json(errorResponseBody(error) as object, error.status)
      : c.json({ error: String(error) }, 500),
  );
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`;
  close = () => server.close();
});
afterAll(() => close());

/** A body sent chunked: no Content-Length, so the limit applies while it streams in. */
const chunked = (text: string) =>
  fetch(url, {
    method: 'POST',
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < text.length; i += 100)
          controller.enqueue(new TextEncoder().encode(text.slice(i, i + 100)));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);

describe('request bodies over real HTTP (@hono/node-server)', () => {
  test('a body within the limit is parsed, with a Content-Length or chunked', async () => {
    const body = JSON.stringify({ entities: { drive_id: ['a', 'b'] } });
    const sized = await fetch(url, { method: 'POST', body });
    const streamed = await chunked(body);
    expect(sized.status).toBe(200);
    expect(streamed.status).toBe(200);
    expect(await sized.json()).toEqual({ body: JSON.parse(body) });
    expect(await streamed.json()).toEqual({ body: JSON.parse(body) });
  });

  test('past the limit is 413 naming the body, declared or streamed; not JSON is 422', async () => {
    const big = JSON.stringify({ x: 'y'.repeat(MAX) });
    for (const response of [await fetch(url, { method: 'POST', body: big }), await chunked(big)]) {
      expect(response.status).toBe(413);
      expect(((await response.json()) as { fields: unknown }).fields).toEqual([
        { field: '(body)', reason: 'too large' },
      ]);
    }
    const bad = await fetch(url, { method: 'POST', body: '{"entities":' });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { fields: { field: string }[] }).fields[0]!.field).toBe('(body)');
  });
});
