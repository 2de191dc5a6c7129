import { Validations } from 'aws-cdk-lib';
import { environmentConfig } from '../config/environments';
const orig = Validations.of;
(Validations as any).of = (scope: any) => {
  const v = orig.call(Validations, scope);
  if (scope.node.path.includes('/Scheduling')) return { ...v, acknowledge: () => {} , addPlugins: v.addPlugins?.bind(v)};
  return v;
};
const { createDrivetrainApp } = await import('./drivetrain-app');
const { securityRulePacks } = await import('./nag');
const { app } = createDrivetrainApp({ environments: [environmentConfig('prod')], securityChecks: false });
for (const pack of securityRulePacks()) {
  for (const v of pack.validateScope(app).violations) {
    const paths = v.violatingResources.map((r: any) => r.constructPath).filter((p: string) => p.includes('/Scheduling'));
    if (paths.length) console.log(v.ruleName, paths.map((p: string) => p.replace('Drivetrain-prod/Scheduling/', '')));
  }
}
