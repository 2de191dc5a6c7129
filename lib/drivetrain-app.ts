import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { allEnvironments } from '../config/environments';
import type { EnvironmentConfig } from '../config/schema';
import { DrivetrainStage } from './drivetrain-stage';
import { addSecurityChecks } from './nag';

/** Feature flags from cdk.json, so tests build exactly what `cdk synth` builds. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'cdk.json'), 'utf8'));
  return cdkJson.context ?? {};
}

export interface DrivetrainAppOptions extends AppProps {
  /** @default every environment in config/ */
  readonly environments?: EnvironmentConfig[];
  /** Run the cdk-nag packs as synth-time validation plugins. @default true */
  readonly securityChecks?: boolean;
}

export function createDrivetrainApp(options: DrivetrainAppOptions = {}) {
  const { environments = allEnvironments(), securityChecks = true, ...appProps } = options;
  const app = new App({ ...appProps, context: { ...cdkJsonContext(), ...appProps.context } });
  const stages = environments.map(
    (config) => new DrivetrainStage(app, `Drivetrain-${config.name}`, { config }),
  );
  if (securityChecks) addSecurityChecks(app);
  return { app, stages };
}
