import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'drivetrain-cli-synth-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('`cdk synth` builds every stage with no credentials, no ~/.aws and no Docker', () => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // A fresh HOME has no ~/.aws; no AWS_* variables are passed at all.
    HOME: join(scratch, 'home'),
    CDK_DISABLE_VERSION_CHECK: 'true',
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? scratch, '.npm'),
  };
  const outdir = join(scratch, 'cdk.out');

  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });

  expect(result.status, result.stderr).toBe(0);
  const templates = readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.template.json'),
  );
  for (const env of ['dev', 'staging', 'prod']) {
    for (const pillar of ['Network', 'Compute', 'Scheduling']) {
      expect(templates.some((t) => t.includes(`assembly-Drivetrain-${env}/Drivetrain${env}${pillar}`))).toBe(
        true,
      );
    }
  }
});
