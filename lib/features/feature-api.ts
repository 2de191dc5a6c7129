import type { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { addRateLimitedWebAcl } from '../rate-limited-web-acl';
import { addSigV4RestApi } from '../sigv4-rest-api';

export interface FeatureApiProps {
  readonly env: string;
  /** lambdas/features/api/handler.ts: every route proxies to it. */
  readonly handler: lambda.IFunction;
  readonly key: kms.IKey;
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Routes of features/serving/app.ts, as [path, method]. */
export const FEATURE_API_ROUTES: readonly (readonly [string, string])[] = [
  ['/get-online-features', 'POST'],
  ['/push', 'POST'],
  ['/feature-services', 'GET'],
  ['/cache-stats', 'GET'],
  ['/health', 'GET'],
];

/**
 * The feature API as API Gateway REST: SigV4 (IAM) on every method, so the team comes from
 * the signed principal; stage throttling from config, JSON access logs, X-Ray, and a WAF
 * web ACL limiting each source.
 */
export class FeatureApi extends Construct {
  public readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: FeatureApiProps) {
    super(scope, id);
    this.api = addSigV4RestApi(this, {
      restApiName: `drivetrain-${props.env}-features`,
      description: `Drivetrain ${props.env} feature API (Feast's feature-server routes, SigV4)`,
      accessLogGroupName: `/drivetrain/${props.env}/feature-api-access`,
      rateLimit: props.rateLimit,
      burstLimit: props.burstLimit,
      key: props.key,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      noCacheReason:
        'Answers depend on the caller (team grants from the SigV4 identity) and on features pushed seconds ago; ElastiCache behind the handler is the cache, with event-time ordering an API Gateway cache cannot keep.',
    }).api;
    const validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'feature-api-parameters',
      validateRequestBody: false,
      validateRequestParameters: true,
    });
    const integration = new apigateway.LambdaIntegration(props.handler, { allowTestInvoke: false });
    for (const [path, method] of FEATURE_API_ROUTES) {
      this.api.root.resourceForPath(path).addMethod(method, integration, { requestValidator: validator });
    }

    addRateLimitedWebAcl(this, {
      name: `drivetrain-${props.env}-features`,
      description: 'Rate-limits each source of feature reads and pushes before SigV4 auth runs',
      stage: this.api.deploymentStage,
      // Five minutes at the stage's steady rate: one source may use all of it, not more.
      perIpPerFiveMinutes: props.rateLimit * 300,
      key: props.key,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    acknowledge(this.api, {
      'AwsSolutions-APIG2':
        'Bodies are validated by the handler against the registry (views, features, join key types), which a static request model cannot express; bad input gets a 4xx naming the field.',
    });
    for (const method of this.api.methods) {
      acknowledge(method, {
        'AwsSolutions-COG4':
          'The API authorizes with IAM (SigV4) so models and pipelines use their AWS roles; the team comes from the signed principal, not from a Cognito user pool.',
      });
    }
  }
}
