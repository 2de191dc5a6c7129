import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors';
import { parseDurationS, parseKeyValues, parseMemoryMiB } from '../../cli/units';

describe('parseMemoryMiB', () => {
  it.each([
    ['512Mi', 512],
    ['32Gi', 32_768],
    ['1.5Gi', 1536],
    ['2Ti', 2_097_152],
  ])('%s is %i MiB', (raw, mib) => {
    expect(parseMemoryMiB(raw)).toBe(mib);
  });

  it.each(['32GB', '32', 'Gi', '0.3Mi'])('rejects %s', (raw) => {
    expect(() => parseMemoryMiB(raw)).toThrow(UsageError);
  });
});

describe('parseDurationS', () => {
  it.each([
    ['2h', 7200],
    ['90m', 5400],
    ['1h30m', 5400],
    ['1d', 86_400],
    ['3600', 3600],
  ])('%s is %i s', (raw, seconds) => {
    expect(parseDurationS('max-runtime', raw)).toBe(seconds);
  });

  it.each(['2 hours', 'h', '1h 30m', '-5m'])('rejects %s', (raw) => {
    expect(() => parseDurationS('max-runtime', raw)).toThrow(/--max-runtime: expected a duration/);
  });
});

describe('parseKeyValues', () => {
  it('splits at the first = so values may contain =', () => {
    expect(parseKeyValues('env', ['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' });
  });

  it('rejects a pair without a key', () => {
    expect(() => parseKeyValues('tag', ['=v'])).toThrow("--tag: expected KEY=VALUE, got '=v'");
  });
});
