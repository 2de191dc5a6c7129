import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface EksTokenOptions {
  /** EKS cluster name; signed into the token so it is valid for this cluster only. */
  readonly clusterName: string;
  /** Region of the cluster; the token is signed for that region's STS endpoint. */
  readonly region: string;
  /**
   * Credentials of the principal the cluster's access entries know.
   * @default fromNodeProviderChain() (the Lambda's role)
   */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** EKS accepts a token for 15 minutes after signing; renew well before. */
const REUSE_MS = 10 * 60 * 1000;

/**
 * An EKS bearer token, as `aws eks get-token` makes it: a presigned STS
 * GetCallerIdentity URL that also signs the `x-k8s-aws-id: <cluster>` header, base64url
 * encoded without padding and prefixed with `k8s-aws-v1.`. EKS calls the URL to learn who
 * the caller is.
 */
export async function eksToken(options: EksTokenOptions): Promise<string> {
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({
    credentials: options.credentials ?? fromNodeProviderChain(),
    region: options.region,
    service: 'sts',
    sha256: Sha256,
  });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': options.clusterName },
    },
    { expiresIn: 60, signingDate: options.now?.() ?? new Date() },
  );
  const query = new URLSearchParams(presigned.query as Record<string, string>).toString();
  const url = `https://${hostname}/?${query}`;
  return TOKEN_PREFIX + Buffer.from(url).toString('base64url');
}

/** A token source for HttpKubernetesApi that signs once per ten minutes. */
export function eksTokenProvider(options: EksTokenOptions): () => Promise<string> {
  const now = options.now ?? (() => new Date());
  // One provider chain for the process: it caches and refreshes the credentials itself.
  const signing = { ...options, credentials: options.credentials ?? fromNodeProviderChain() };
  let cached: { token: Promise<string>; at: number } | undefined;
  return () => {
    const at = now().getTime();
    if (cached === undefined || at - cached.at >= REUSE_MS) {
      const token = eksToken(signing);
      cached = { token, at };
      token.catch(() => {
        if (cached?.token === token) cached = undefined;
      });
    }
    return cached.token;
  };
}
