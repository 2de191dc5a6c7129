import { Annotations } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentConfig } from '../../config/schema';
import { createDrivetrainApp } from '../../lib/drivetrain-app';

const withoutPrincipals = (config: EnvironmentConfig, teams: string[]): EnvironmentConfig => ({
  ...config,
  teams: config.teams.map((t) => (teams.includes(t.name) ? { ...t, principals: [] } : t)),
});

describe('identity on deploy', () => {
  test('staging and prod ship a principal for every team, built from the account', () => {
    for (const env of ['staging', 'prod'] as const) {
      const config = environmentConfig(env);
      for (const team of config.teams) {
        expect(team.principals).toEqual([
          `arn:aws:iam::${config.account}:role/drivetrain-${env}-${team.name}`,
        ]);
      }
    }
  });

  test.each(['staging', 'prod'] as const)(
    'synth of %s fails when teams have no principals, naming them',
    (env) => {
      const config = withoutPrincipals(environmentConfig(env), ['planning', 'mapping']);
      const { app } = createDrivetrainApp({ environments: [config], securityChecks: false });

      expect(() => app.synth()).toThrow(/teams without principals in config \(\w+\): planning, mapping/);
    },
  );

  test('dev only warns', () => {
    const { stages } = createDrivetrainApp({
      environments: [environmentConfig('dev')],
      securityChecks: false,
    });
    const warnings = Annotations.fromStack(stages[0]!.network).findWarning('*', '*');

    expect(() => stages[0]!.synth()).not.toThrow();
    expect(warnings).toBeDefined();
  });
});
