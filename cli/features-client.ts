import { resolveEndpoint } from './endpoint';
import { ApiError, type ApiErrorBody, TransportError } from './errors';
import type { CliIo } from './io';
import { requestAuthFor } from './request-auth';

export const DEFAULT_FEATURES_URL = 'http://127.0.0.1:8788';

/**
 * The feature API over HTTP for `drivetrain features`: locally the runtime's feature server,
 * on AWS the Features stack's API Gateway (SigV4, like the job API).
 */
export function featureApi(flags: { 'features-api'?: string; team?: string }, io: CliIo) {
  const endpoint = resolveEndpoint(
    {
      api: flags['features-api'] ?? io.env.DRIVETRAIN_FEATURES_API ?? DEFAULT_FEATURES_URL,
      team: flags.team,
    },
    io.env,
  );
  const authorize = requestAuthFor(endpoint, io.credentials);
  const send = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const url = new URL(endpoint.baseUrl);
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = await authorize({
      method,
      url,
      headers:
        payload === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
      body: payload,
    });
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: payload });
    } catch (error) {
      throw new TransportError(
        `cannot reach ${url.origin}: ${(error as Error & { cause?: Error }).cause?.message ?? String(error)}`,
      );
    }
    if (!response.ok) throw new ApiError(response.status, errorBody(await response.text(), response));
    return response;
  };
  return {
    json: async <T>(method: string, path: string, body?: unknown): Promise<T> =>
      (await (await send(method, path, body)).json()) as T,
    /** JSON lines as they arrive (materialization progress). */
    async *lines(method: string, path: string, body?: unknown): AsyncIterable<Record<string, unknown>> {
      const response = await send(method, path, body);
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line) yield JSON.parse(line) as Record<string, unknown>;
          newline = buffer.indexOf('\n');
        }
      }
    },
  };
}

/** Feast errors arrive as a JSON string holding {class, message}; ours as {error, message, fields}. */
function errorBody(text: string, response: Response): ApiErrorBody {
  try {
    let parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'string') parsed = JSON.parse(parsed);
    const body = parsed as {
      error?: string;
      class?: string;
      message?: string;
      fields?: ApiErrorBody['fields'];
    };
    return {
      error: body.error ?? body.class ?? response.statusText,
      message: body.message ?? text,
      fields: body.fields,
    };
  } catch {
    return { error: response.statusText || `HTTP ${response.status}`, message: text || 'request failed' };
  }
}
