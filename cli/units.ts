import { UsageError } from './errors';

const MIB_PER_UNIT: Readonly<Record<string, number>> = { Mi: 1, Gi: 1024, Ti: 1024 * 1024 };

/** Kubernetes-style binary sizes to the spec's MiB: `32Gi` → 32768, `512Mi` → 512. */
export function parseMemoryMiB(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(Mi|Gi|Ti)$/.exec(raw.trim());
  const [, amount, unit] = match ?? [];
  const mib = amount && unit ? Number(amount) * (MIB_PER_UNIT[unit] ?? Number.NaN) : Number.NaN;
  if (!Number.isInteger(mib)) {
    throw new UsageError(
      `--memory: expected a size such as 32Gi or 512Mi (a whole number of MiB), got '${raw}'`,
    );
  }
  return mib;
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** Durations to seconds: `2h` → 7200, `1h30m` → 5400, `90s` → 90, a bare number is seconds. */
export function parseDurationS(flag: string, raw: string): number {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+)([dhms])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
    throw new UsageError(`--${flag}: expected a duration such as 2h, 90m or 1h30m, got '${raw}'`);
  }
  return parts.reduce(
    (total, [, amount, unit]) => total + Number(amount) * (SECONDS_PER_UNIT[unit ?? ''] ?? 0),
    0,
  );
}

/** Repeated `--env K=V` flags to a record; the value may itself contain `=`. */
export function parseKeyValues(flag: string, pairs: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--${flag}: expected KEY=VALUE, got '${pair}'`);
    record[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return record;
}

/** A whole number flag such as `--limit 50`. */
export function parseCount(flag: string, raw: string | undefined, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min) {
    throw new UsageError(
      `--${flag}: expected a whole number${min > 0 ? ` of at least ${min}` : ''}, got '${raw}'`,
    );
  }
  return value;
}
