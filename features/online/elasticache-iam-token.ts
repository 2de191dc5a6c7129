import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/** ElastiCache accepts an IAM auth token for 15 minutes; a connection it opened stays up 12 hours. */
export const TOKEN_LIFETIME_S = 900;

/**
 * An IAM authentication token for an ElastiCache (Valkey/Redis OSS) user: a SigV4-presigned
 * `connect` request to the cache, sent as the AUTH password with the user id as user name
 * (ElastiCache user guide, "Authenticating with IAM").
 */
export async function elastiCacheIamToken(options: {
  readonly cacheName: string;
  readonly userId: string;
  readonly region: string;
  readonly serverless: boolean;
  readonly credentials: AwsCredentialIdentityProvider;
}): Promise<string> {
  const signer = new SignatureV4({
    service: 'elasticache',
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const request = {
    method: 'GET',
    protocol: 'http:',
    hostname: options.cacheName,
    path: '/',
    query: {
      Action: 'connect',
      User: options.userId,
      ...(options.serverless ? { ResourceType: 'ServerlessCache' } : {}),
    },
    headers: { host: options.cacheName },
  };
  const signed = await signer.presign(request, { expiresIn: TOKEN_LIFETIME_S });
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${options.cacheName}/?${query}`;
}
