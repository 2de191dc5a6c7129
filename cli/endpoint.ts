import { UsageError } from './errors';

export const DEFAULT_API_URL = 'http://127.0.0.1:8787';

/** Where the CLI sends requests and how it proves who is calling. */
export type Endpoint =
  /** The local runtime: the team is taken from the `X-Drivetrain-Team` header. */
  | { readonly kind: 'local'; readonly baseUrl: URL; readonly team?: string }
  /** A deployed API Gateway with IAM auth: requests are SigV4-signed, the team is the IAM identity's. */
  | { readonly kind: 'aws'; readonly baseUrl: URL; readonly region: string };

export interface EndpointFlags {
  readonly api?: string;
  readonly team?: string;
}

export function resolveEndpoint(
  flags: EndpointFlags,
  env: Readonly<Record<string, string | undefined>>,
): Endpoint {
  const raw = flags.api ?? env.DRIVETRAIN_API ?? DEFAULT_API_URL;
  const baseUrl = parseBaseUrl(raw);
  if (baseUrl.protocol === 'http:') {
    return { kind: 'local', baseUrl, team: flags.team ?? env.DRIVETRAIN_TEAM };
  }
  const region = regionOfExecuteApiHost(baseUrl.hostname) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new UsageError(`cannot tell the AWS region of ${baseUrl.host}: set AWS_REGION`);
  }
  return { kind: 'aws', baseUrl, region };
}

/** `abc123.execute-api.eu-west-1.amazonaws.com` → `eu-west-1`; undefined for custom domains. */
export function regionOfExecuteApiHost(hostname: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(hostname)?.[1];
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api: not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api: expected an http:// or https:// URL, got ${raw}`);
  }
  return url;
}
