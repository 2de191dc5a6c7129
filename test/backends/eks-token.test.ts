import { describe, expect, test } from 'vitest';
import { eksToken, eksTokenProvider, TOKEN_PREFIX } from '../../backends/eks-token';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const signedAt = new Date('2026-11-25T10:00:00Z');
const options = { clusterName: 'drivetrain-prod', region: 'us-west-2', credentials, now: () => signedAt };

/** The presigned URL inside a token. */
function urlOf(token: string): URL {
  expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
  return new URL(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}

describe('eksToken', () => {
  test('is k8s-aws-v1. and an unpadded base64url presigned STS GetCallerIdentity URL', async () => {
    // GIVEN / WHEN
    const token = await eksToken(options);

    // THEN
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const url = urlOf(token);
    expect(url.origin).toBe('https://sts.us-west-2.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20261125/us-west-2/sts/aws4_request',
      'X-Amz-Date': '20261125T100000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  test('signs the cluster name: the same request for another cluster has another signature', async () => {
    // GIVEN
    const signature = async (clusterName: string) =>
      urlOf(await eksToken({ ...options, clusterName })).searchParams.get('X-Amz-Signature');

    // WHEN
    const [prod, staging, prodAgain] = await Promise.all([
      signature('drivetrain-prod'),
      signature('drivetrain-staging'),
      signature('drivetrain-prod'),
    ]);

    // THEN
    expect(prod).toBe(prodAgain);
    expect(prod).not.toBe(staging);
  });
});

describe('eksTokenProvider', () => {
  test('reuses a token for ten minutes and then signs a new one', async () => {
    // GIVEN
    let now = signedAt;
    const token = eksTokenProvider({ ...options, now: () => now });
    const first = await token();

    // WHEN
    now = new Date(signedAt.getTime() + 9 * 60_000);
    const within = await token();
    now = new Date(signedAt.getTime() + 10 * 60_000);
    const after = await token();

    // THEN
    expect(within).toBe(first);
    expect(urlOf(after).searchParams.get('X-Amz-Date')).toBe('20261125T101000Z');
  });
});
