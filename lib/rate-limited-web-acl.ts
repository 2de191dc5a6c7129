import { ArnFormat, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';

/** An AWS managed rule group the web ACL runs after its rate limit, in the order given. */
export interface ManagedRuleGroup {
  /** The rule's name in the web ACL. */
  readonly ruleName: string;
  /** The group's name, e.g. `AWSManagedRulesKnownBadInputsRuleSet`. */
  readonly groupName: string;
  /** Appended to the web ACL's name to name the rule's CloudWatch metric. */
  readonly metricSuffix: string;
}

export interface RateLimitedWebAclProps {
  /** Names the web ACL, its metrics (`<name>-acl`, ...) and its log group (`aws-waf-logs-<name>`). */
  readonly name: string;
  readonly description: string;
  /** The API Gateway stage the web ACL protects. */
  readonly stage: apigateway.Stage;
  /** Requests one source IP may make in any five minutes before WAF blocks it. */
  readonly perIpPerFiveMinutes: number;
  /** @default - none */
  readonly managedRuleGroups?: readonly ManagedRuleGroup[];
  /** Encrypts the WAF log group. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A regional WAF web ACL in front of an API Gateway stage that blocks any source IP above a
 * five-minute request budget, and logs to a KMS-encrypted log group with the Authorization
 * header redacted. Its parts are children of `scope`: `WebAcl`, `WebAclAssociation`,
 * `WafLogs` and `WafLogging`.
 */
export function addRateLimitedWebAcl(scope: Construct, props: RateLimitedWebAclProps): wafv2.CfnWebACL {
  const metrics = (suffix: string) => ({
    cloudWatchMetricsEnabled: true,
    metricName: `${props.name}-${suffix}`,
    sampledRequestsEnabled: true,
  });
  const managedRules = (props.managedRuleGroups ?? []).map((group, index) => ({
    name: group.ruleName,
    priority: index + 1,
    overrideAction: { none: {} },
    statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: group.groupName } },
    visibilityConfig: metrics(group.metricSuffix),
  }));
  const webAcl = new wafv2.CfnWebACL(scope, 'WebAcl', {
    name: props.name,
    description: props.description,
    scope: 'REGIONAL',
    defaultAction: { allow: {} },
    visibilityConfig: metrics('acl'),
    rules: [
      {
        name: 'RateLimitPerIp',
        priority: 0,
        action: { block: {} },
        statement: {
          rateBasedStatement: {
            limit: props.perIpPerFiveMinutes,
            evaluationWindowSec: 300,
            aggregateKeyType: 'IP',
          },
        },
        visibilityConfig: metrics('rate-limit'),
      },
      ...managedRules,
    ],
  });
  new wafv2.CfnWebACLAssociation(scope, 'WebAclAssociation', {
    resourceArn: props.stage.stageArn,
    webAclArn: webAcl.attrArn,
  });

  const wafLogs = new logs.LogGroup(scope, 'WafLogs', {
    // WAF delivers only to log groups named aws-waf-logs-*.
    logGroupName: `aws-waf-logs-${props.name}`,
    encryptionKey: props.key,
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  new wafv2.CfnLoggingConfiguration(scope, 'WafLogging', {
    resourceArn: webAcl.attrArn,
    // WAF takes the log group's ARN without the trailing `:*` the L2 attribute carries.
    logDestinationConfigs: [
      Stack.of(scope).formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: wafLogs.logGroupName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ],
    redactedFields: [{ singleHeader: { Name: 'authorization' } }],
  }).node.addDependency(wafLogs);
  return webAcl;
}
