import { type App, type Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Rule packs every Drivetrain app is checked against on synth and in tests. */
export function securityRulePacks() {
  return [new AwsSolutionsChecks(), new NIST80053R5Checks()];
}

export function addSecurityChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
}

/**
 * Acknowledges cdk-nag findings on one construct (and its children). Each entry maps a
 * finding id, e.g. `AwsSolutions-IAM5[Resource::*]`, to the reason it is acceptable.
 */
export function acknowledge(scope: IConstruct, reasons: Record<string, string>): void {
  for (const [id, reason] of Object.entries(reasons)) {
    Validations.of(scope).acknowledge({ id, reason });
  }
}

/**
 * Acknowledges AwsSolutions-IAM5 wildcard-resource findings on a role. Keys are the
 * resource ARNs as written in the policy; they are resolved the way cdk-nag prints them.
 */
export function acknowledgeWildcards(stack: Stack, scope: IConstruct, reasons: Record<string, string>): void {
  for (const [resource, reason] of Object.entries(reasons)) {
    const resolved = stack.resolve(resource);
    const printed = typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${printed}]`, reason });
  }
}

/** EFA requires all traffic within the group; the source is the group itself, never a CIDR. */
export const SELF_REFERENCING_ALL_TRAFFIC =
  'Ingress is from this security group only: EFA and NCCL need every port between the nodes of one job.';
