import {
  isRetryableByTrait,
  isServerError,
  isThrottlingError,
  isTransientError,
} from '@smithy/service-error-classification';

/**
 * Whether a failed backend call can pass if tried again (throttling, a 5xx, a dropped
 * connection) or never will (a value the service refuses, a missing permission). AWS SDK
 * errors carry their own classification (`$retryable`, the HTTP status); other clients'
 * errors (the Kubernetes API) are judged by the HTTP status they carry.
 */
export function isTransientBackendError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  // The classifiers read `name`, `code`, `$retryable` and `$metadata`, all optional.
  const sdkError = error as Parameters<typeof isTransientError>[0];
  if (
    isRetryableByTrait(sdkError) ||
    isThrottlingError(sdkError) ||
    isTransientError(sdkError) ||
    isServerError(sdkError)
  ) {
    return true;
  }
  const status =
    (error as { status?: unknown; statusCode?: unknown }).status ??
    (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && (status === 429 || status >= 500);
}

/** A backend call the platform cannot make here at all: no such backend in this environment. */
export class BackendNotConfigured extends Error {
  constructor(
    readonly backend: string,
    readonly configured: readonly string[],
  ) {
    super(`no ${backend} backend in this environment (configured: ${configured.join(', ') || 'none'})`);
    this.name = 'BackendNotConfigured';
  }
}

/** The first line of an error's message, bounded: what a job record keeps as its reason. */
export function backendMessage(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const line = text.split('\n', 1)[0] ?? text;
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}
