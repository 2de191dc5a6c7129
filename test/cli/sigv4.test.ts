import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { regionOfExecuteApiHost, resolveEndpoint } from '../../cli/endpoint';
import { UsageError } from '../../cli/errors';
import { requestAuthFor } from '../../cli/request-auth';
import { signRequest } from '../../cli/sigv4';
import { runCli } from './cli-harness';

const credentials = { accessKeyId: 'AKID', secretAccessKey: 'SECRET' };
const signingDate = new Date('2025-05-01T10:00:00Z');
const apiUrl = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod';

/** SigV4 computed independently from AWS's published algorithm, to check the signer against. */
function expectedSignature(method: string, url: URL, headers: Record<string, string>, body: string): string {
  const signed = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1]?.split(';') ?? [];
  const query = [...url.searchParams].sort(([a], [b]) => (a < b ? -1 : 1));
  const canonicalRequest = [
    method,
    url.pathname,
    query.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&'),
    ...signed.map((name) => `${name}:${headers[name]?.trim()}`),
    '',
    signed.join(';'),
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  const scope = '20250501/eu-west-1/execute-api/aws4_request';
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    '20250501T100000Z',
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const key = ['20250501', 'eu-west-1', 'execute-api', 'aws4_request'].reduce<Buffer | string>(
    (secret, part) => createHmac('sha256', secret).update(part).digest(),
    'AWS4SECRET',
  );
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('signRequest', () => {
  it('signs for execute-api in the region with a verifiable AWS4-HMAC-SHA256 signature', async () => {
    // GIVEN
    const url = new URL(`${apiUrl}/jobs?state=RUNNING&limit=10`);
    const body = JSON.stringify({ name: 'bev-fusion-train' });

    // WHEN
    const headers = await signRequest(
      { method: 'POST', url, headers: { 'content-type': 'application/json' }, body },
      { region: 'eu-west-1', credentials, signingDate },
    );

    // THEN
    expect(headers['x-amz-date']).toBe('20250501T100000Z');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/20250501\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*\bhost\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(headers.authorization).toContain(
      'SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,',
    );
    expect(headers.authorization).toContain(`Signature=${expectedSignature('POST', url, headers, body)}`);
  });

  it('adds the session token of temporary credentials', async () => {
    // WHEN
    const headers = await signRequest(
      { method: 'GET', url: new URL(`${apiUrl}/queues`), headers: {} },
      { region: 'eu-west-1', credentials: { ...credentials, sessionToken: 'TOKEN' }, signingDate },
    );

    // THEN
    expect(headers['x-amz-security-token']).toBe('TOKEN');
    expect(headers.authorization).toContain('x-amz-security-token');
  });
});

describe('resolveEndpoint', () => {
  it('treats an https URL as a deployed API and takes the region from the host', () => {
    expect(resolveEndpoint({ api: apiUrl, team: 'perception' }, {})).toEqual({
      kind: 'aws',
      baseUrl: new URL(apiUrl),
      region: 'eu-west-1',
    });
  });

  it('falls back to AWS_REGION for a custom domain and fails without it', () => {
    expect(resolveEndpoint({ api: 'https://jobs.example.com' }, { AWS_REGION: 'us-west-2' })).toMatchObject({
      region: 'us-west-2',
    });
    expect(() => resolveEndpoint({ api: 'https://jobs.example.com' }, {})).toThrow(UsageError);
  });

  it('defaults to the local runtime with the team from the environment', () => {
    expect(resolveEndpoint({}, { DRIVETRAIN_TEAM: 'planning' })).toEqual({
      kind: 'local',
      baseUrl: new URL('http://127.0.0.1:8787'),
      team: 'planning',
    });
  });

  it('recognises China-partition execute-api hosts', () => {
    expect(regionOfExecuteApiHost('x1.execute-api.cn-north-1.amazonaws.com.cn')).toBe('cn-north-1');
  });
});

describe('requestAuthFor a deployed API', () => {
  it('signs and sends no team header even when a team is configured', async () => {
    // GIVEN
    const endpoint = resolveEndpoint({ api: apiUrl, team: 'perception' }, { DRIVETRAIN_TEAM: 'perception' });
    const authorize = requestAuthFor(endpoint, async () => credentials);

    // WHEN
    const headers = await authorize({
      method: 'GET',
      url: new URL(`${apiUrl}/queues`),
      headers: { accept: 'application/json' },
    });

    // THEN
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/execute-api\//,
    );
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain('x-drivetrain-team');
  });

  it('is a usage error (exit 2) when the region cannot be told', async () => {
    expect(await runCli(['queues', '--api', 'https://jobs.example.com'])).toMatchObject({
      code: 2,
      stderr: 'error: cannot tell the AWS region of jobs.example.com: set AWS_REGION',
    });
  });
});
