import { describe, expect, test } from 'vitest';
import { attemptEnvironment, attemptTags } from '../../backends/attempt';
import { JOB_ID, submission } from './fixtures';

describe('attemptTags', () => {
  test('keeps the platform tags and stays within the 50 tags AWS accepts', () => {
    // GIVEN a spec with the 50 tags it may have
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`tag${i}`, 'x']));
    const { job } = submission({ spec: { tags } });

    // WHEN
    const result = attemptTags(job);

    // THEN
    expect(Object.keys(result)).toHaveLength(50);
    expect(result).toMatchObject({ 'drivetrain:job-id': JOB_ID, 'drivetrain:team': 'perception' });
  });
});

describe('attemptEnvironment', () => {
  test('does not let the spec override the platform variables', () => {
    // GIVEN
    const { job } = submission({ spec: { env: { DRIVETRAIN_JOB_ID: 'someone-else' } } });

    // WHEN / THEN
    expect(attemptEnvironment(job).DRIVETRAIN_JOB_ID).toBe(JOB_ID);
  });
});
