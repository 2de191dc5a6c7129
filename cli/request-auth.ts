import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Endpoint } from './endpoint';
import { type RequestToSign, signRequest } from './sigv4';

/** Returns the headers to send for a request: its own plus whatever identifies the caller. */
export type RequestAuth = (request: RequestToSign) => Promise<Record<string, string>>;

export const TEAM_HEADER = 'X-Drivetrain-Team';

export function requestAuthFor(endpoint: Endpoint, credentials?: AwsCredentialIdentityProvider): RequestAuth {
  if (endpoint.kind === 'local') {
    const { team } = endpoint;
    return async ({ headers }) => (team ? { ...headers, [TEAM_HEADER]: team } : { ...headers });
  }
  // Resolved once and cached by the provider: the chain may call IMDS or SSO.
  const provider = credentials ?? fromNodeProviderChain();
  return (request) => signRequest(request, { region: endpoint.region, credentials: provider });
}
