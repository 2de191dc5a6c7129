import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += ALPHABET[bytes[i % bytes.length]! % 32];
  return out;
}

/**
 * Job ids are lower-case alphanumerics of 22 characters, so that `dt-<id>-<attempt>` is a
 * valid name on every backend (SageMaker: 63 characters; Kubernetes: DNS-1123 label).
 * Without an idempotency key: time-ordered (10 characters of milliseconds) plus randomness.
 */
export function newJobId(now: Date): string {
  return `${now.getTime().toString(32).padStart(10, '0')}${base32(randomBytes(12), 12)}`;
}

/** With an idempotency key: derived from team and key, so a replay finds the same job. */
export function idempotentJobId(team: string, key: string): string {
  const digest = createHash('sha256').update(`${team}\0${key}`).digest();
  return `k${base32(digest, 21)}`;
}

/** Canonical JSON (sorted keys) hash: the same spec always hashes the same. */
export function specHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The backend name of one attempt; deterministic so a crashed dispatcher finds it again. */
export function attemptName(jobId: string, attempt: number): string {
  return `dt-${jobId}-${attempt}`;
}
