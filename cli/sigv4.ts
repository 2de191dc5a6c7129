import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** API Gateway's signing name for IAM-authorized REST APIs. */
const SERVICE = 'execute-api';

export interface RequestToSign {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface SigningOptions {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Defaults to now; fixed in tests for reproducible signatures. */
  readonly signingDate?: Date;
}

/**
 * Returns the request's headers plus `authorization`, `x-amz-date` (and
 * `x-amz-security-token` for temporary credentials). `host` is signed as the URL's host,
 * which is what fetch sends.
 */
export async function signRequest(
  request: RequestToSign,
  options: SigningOptions,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: SERVICE,
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const { url } = request;
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...request.headers, host: url.host },
      body: request.body,
    },
    { signingDate: options.signingDate },
  );
  return signed.headers;
}
