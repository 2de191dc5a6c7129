import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CDK synth and cdk-nag over three stages are CPU-heavy; two cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    setupFiles: ['test/per-file-temp-dir.ts'],
    // After-hooks in reverse order (vitest's default, stated): the temp dir goes last.
    sequence: { hooks: 'stack' },
  },
});
