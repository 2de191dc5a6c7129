import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDrivetrainApp } from '../../lib/drivetrain-app';
import { securityRulePacks } from '../../lib/nag';

const repoRoot = join(import.meta.dirname, '..', '..');

describe('security checks over every environment', () => {
  const { app } = createDrivetrainApp({ securityChecks: false });

  test.each(securityRulePacks().map((pack) => [pack.name, pack] as const))(
    '%s finds nothing unacknowledged',
    (_name, pack) => {
      const findings = pack
        .validateScope(app)
        .violations.flatMap((v) =>
          v.violatingResources.map(
            (r) => `${v.ruleName} at ${(r as { constructPath?: string }).constructPath}`,
          ),
        );

      expect(findings).toEqual([]);
    },
  );
});

describe('cfn-lint over every synthesized template', () => {
  let outdir: string;
  let templates: string[];

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'drivetrain-synth-'));
    createDrivetrainApp({ outdir, securityChecks: false }).app.synth();
    templates = readdirSync(outdir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.template.json'))
      .map((file) => join(outdir, file));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('every environment synthesizes its stacks', () => {
    const names = templates.map((t) => t.split('/').at(-1) ?? '');
    for (const env of ['dev', 'staging', 'prod']) {
      for (const pillar of ['Network', 'Compute', 'Kubernetes', 'Scheduling', 'Features']) {
        expect(names.some((n) => n.startsWith(`Drivetrain${env}${pillar}`))).toBe(true);
      }
    }
  });

  test('reports zero errors', () => {
    const cfnLint = join(repoRoot, '.venv', 'bin', 'cfn-lint');
    expect(existsSync(cfnLint), 'cfn-lint missing: run scripts/bootstrap.sh').toBe(true);

    let output = '';
    try {
      // Errors only (E*); warnings and informational findings are reviewed, not gating.
      output = execFileSync(
        cfnLint,
        ['--format', 'parseable', '--ignore-checks', 'W', 'I', '--', ...templates],
        {
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    } catch (error) {
      output = (error as { stdout?: string }).stdout ?? String(error);
    }

    expect(output.trim().split('\n').filter(Boolean)).toEqual([]);
  });
});
