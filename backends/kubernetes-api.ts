import { request } from 'node:https';
import type { KubernetesObject } from './ray-job';

/**
 * The slice of the Kubernetes API the EKS backend uses, addressed by API path
 * (`/apis/ray.io/v1/namespaces/team-a/rayjobs/<name>`). Failures throw KubernetesApiError
 * with the HTTP status, so callers can tell 404 and 409 from real errors.
 */
export interface KubernetesApi {
  /** POSTs `object` to the collection at `collectionPath`; returns what the server stored. */
  create<T extends KubernetesObject>(collectionPath: string, object: T): Promise<T>;
  /** An object, or a list when `path` is a collection (with its query, e.g. a field selector). */
  get<T>(path: string): Promise<T>;
  delete(path: string): Promise<void>;
}

export class KubernetesApiError extends Error {
  constructor(
    readonly status: number,
    /** The Status object's reason, e.g. `AlreadyExists`, `NotFound`. */
    readonly reason: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'KubernetesApiError';
  }
}

export interface HttpKubernetesApiOptions {
  /** Cluster endpoint, e.g. `https://ABC.gr7.us-west-2.eks.amazonaws.com`. */
  readonly endpoint: string;
  /** Cluster CA in PEM, or base64 of the PEM as EKS's DescribeCluster returns it. */
  readonly certificateAuthority: string;
  /** A bearer token per request; EKS tokens expire, so it is asked for each time. */
  readonly token: () => Promise<string>;
  /**
   * Per-request timeout.
   * @default 10000
   */
  readonly timeoutMs?: number;
}

/**
 * KubernetesApi over HTTPS, trusting only the cluster's CA. Built on node:https rather
 * than fetch: Node 20's fetch cannot be given a CA per request without the undici package.
 */
export class HttpKubernetesApi implements KubernetesApi {
  private readonly ca: string;

  constructor(private readonly options: HttpKubernetesApiOptions) {
    const ca = options.certificateAuthority;
    this.ca = ca.includes('-----BEGIN') ? ca : Buffer.from(ca, 'base64').toString('utf8');
  }

  create<T extends KubernetesObject>(collectionPath: string, object: T): Promise<T> {
    return this.call('POST', collectionPath, object) as Promise<T>;
  }

  get<T>(path: string): Promise<T> {
    return this.call('GET', path) as Promise<T>;
  }

  async delete(path: string): Promise<void> {
    // Background: the RayJob goes at once and the garbage collector removes its Ray cluster.
    await this.call('DELETE', path, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: 'Background',
    });
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.options.endpoint);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.options.token()}`,
      accept: 'application/json',
      ...(payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
    };
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        url,
        { method, headers, ca: this.ca, timeout: this.options.timeoutMs ?? 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    const parsed = parseJson(text);
    if (status >= 200 && status < 300) return parsed;
    const statusObject = parsed as { reason?: string; message?: string } | undefined;
    throw new KubernetesApiError(
      status,
      statusObject?.reason,
      `${method} ${url.pathname}: ${status} ${statusObject?.message ?? text.slice(0, 200)}`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
