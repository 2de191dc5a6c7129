/** `base` with the fields of `override` replaced, recursively (plain objects only). */
export function mergeConfig<T>(base: T, override: unknown): T {
  if (typeof override !== 'object' || override === null || typeof base !== 'object' || base === null)
    return (override ?? base) as T;
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeConfig(merged[key], value);
  return merged as T;
}
