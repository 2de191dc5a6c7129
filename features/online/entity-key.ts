import type { EntityDefinition } from '../definitions/schema';

/** A join key value as a request carries it. */
export type JoinKeyValue = string | number;

/**
 * The online key of one entity: its name and join key values, e.g. `drive#b0c9d2329ad1606b`.
 * Values are URI-encoded, so `#` never occurs inside one and keys never collide.
 */
export function entityKey(entity: EntityDefinition, values: readonly JoinKeyValue[]): string {
  let key = entity.name;
  for (const value of values) key += `#${encodeURIComponent(String(value))}`;
  return key;
}

/** Why `value` cannot be a value of a join key of `type`, or undefined if it can. */
export function joinKeyProblem(type: 'String' | 'Int64', value: unknown): string | undefined {
  if (type === 'String') {
    if (typeof value !== 'string') return 'must be a string';
    if (value.length === 0 || value.length > 512) return 'must be 1 to 512 characters';
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return 'must be an integer';
  return undefined;
}
