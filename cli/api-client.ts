import type { JobPage, JobResponse, ListJobsQuery, LogPage, LogsQuery, QueuesView } from './api-types';
import { ApiError, type ApiErrorBody, TransportError } from './errors';
import type { RequestAuth } from './request-auth';

const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiResponse<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

type Query = Readonly<Record<string, string | number | undefined>>;

/** The job API over HTTP: one method per route of the contract. */
export class DrivetrainApi {
  constructor(
    private readonly baseUrl: URL,
    private readonly authorize: RequestAuth,
  ) {}

  /** `replayed` is true when the idempotency key had already created this job. */
  async submitJob(spec: unknown): Promise<ApiResponse<JobResponse> & { readonly replayed: boolean }> {
    const response = await this.request<JobResponse>('POST', '/jobs', {}, spec);
    return { ...response, replayed: response.headers.get('idempotent-replayed') === 'true' };
  }

  getJob(id: string): Promise<ApiResponse<JobResponse>> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: ListJobsQuery): Promise<ApiResponse<JobPage>> {
    return this.request('GET', '/jobs', { ...query });
  }

  cancelJob(id: string): Promise<ApiResponse<JobResponse>> {
    return this.request('DELETE', `/jobs/${encodeURIComponent(id)}`);
  }

  getLogs(id: string, query: LogsQuery): Promise<ApiResponse<LogPage>> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}/logs`, { ...query });
  }

  getQueues(): Promise<ApiResponse<QueuesView>> {
    return this.request('GET', '/queues');
  }

  getWhoami(): Promise<ApiResponse<{ team: string }>> {
    return this.request('GET', '/whoami');
  }

  private async request<T>(
    method: string,
    path: string,
    query: Query = {},
    body?: unknown,
  ): Promise<ApiResponse<T>> {
    // Appended, not resolved: a stage prefix such as `/prod` must stay in front of every route.
    const url = new URL(this.baseUrl);
    url.pathname = url.pathname.replace(/\/+$/, '') + path;
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = await this.authorize({
      method,
      url,
      headers:
        payload === undefined
          ? { accept: 'application/json' }
          : { accept: 'application/json', 'content-type': 'application/json' },
      body: payload,
    });

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new TransportError(`cannot reach ${url.origin}: ${describeFetchFailure(error)}`);
    }
    const parsed = parseJson(await response.text());
    if (!response.ok) {
      throw new ApiError(response.status, asErrorBody(parsed, response));
    }
    if (parsed === undefined) {
      throw new TransportError(`${method} ${url.pathname}: HTTP ${response.status} without a JSON body`);
    }
    // Trusted to follow the contract: the API validates its own responses.
    return { status: response.status, headers: response.headers, body: parsed as T };
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Gateways and proxies answer some errors with their own bodies; keep the message readable. */
function asErrorBody(parsed: unknown, response: Response): ApiErrorBody {
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    'message' in parsed &&
    typeof parsed.message === 'string'
  ) {
    const error = 'error' in parsed && typeof parsed.error === 'string' ? parsed.error : response.statusText;
    return { ...(parsed as Partial<ApiErrorBody>), error, message: parsed.message };
  }
  return {
    error: response.statusText || `HTTP ${response.status}`,
    message: `request failed with HTTP ${response.status}`,
  };
}

/** fetch reports "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND, timeout) is in `cause`. */
function describeFetchFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
    const cause = error.cause;
    if (cause instanceof Error)
      return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
    return error.message;
  }
  return String(error);
}
