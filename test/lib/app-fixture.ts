import { Template } from 'aws-cdk-lib/assertions';
import { environmentConfig } from '../../config/environments';
import type { EnvironmentName } from '../../config/schema';
import { createDrivetrainApp } from '../../lib/drivetrain-app';
import type { DrivetrainStage } from '../../lib/drivetrain-stage';

const stages = new Map<EnvironmentName, DrivetrainStage>();

/** One stage per environment per test file: synthesis is the slow part of these tests. */
export function stageOf(env: EnvironmentName): DrivetrainStage {
  let stage = stages.get(env);
  if (!stage) {
    stage = createDrivetrainApp({ environments: [environmentConfig(env)], securityChecks: false }).stages[0]!;
    stages.set(env, stage);
  }
  return stage;
}

export function computeTemplate(env: EnvironmentName): Template {
  return Template.fromStack(stageOf(env).compute);
}

export function networkTemplate(env: EnvironmentName): Template {
  return Template.fromStack(stageOf(env).network);
}

export function schedulingTemplate(env: EnvironmentName): Template {
  return Template.fromStack(stageOf(env).scheduling);
}

/** Resources of one type as [logicalId, Properties] pairs. */
export function propertiesOf(template: Template, type: string): Record<string, unknown>[] {
  return Object.values(template.findResources(type)).map(
    (r) => (r as { Properties: Record<string, unknown> }).Properties,
  );
}
