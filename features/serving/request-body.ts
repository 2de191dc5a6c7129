import type { Context } from 'hono';
import { FeatureRequestError } from './feast-errors';

const tooLarge = (maxBytes: number) =>
  new FeatureRequestError(413, `body exceeds ${maxBytes} bytes`, [{ field: '(body)', reason: 'too large' }]);

/**
 * The request body parsed as JSON, refused with a 413 past `maxBytes` and a 422 when it is not
 * JSON. A body with a Content-Length is checked against it and read in one piece: under
 * @hono/node-server that reads Node's request directly, where hono's bodyLimit middleware
 * (it touches `Request.body`) makes it build a web Request and a stream for every call. A
 * body without one (chunked) is counted as it streams in and refused once past the limit.
 */
export async function jsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const declared = c.req.header('content-length');
  let text: string;
  if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
    text = await c.req.text();
  } else text = await streamedText(c.req.raw.body, maxBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new FeatureRequestError(422, 'body is not valid JSON', [
      { field: '(body)', reason: 'not valid JSON' },
    ]);
  }
}

async function streamedText(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
