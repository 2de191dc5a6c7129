import type { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { addRateLimitedWebAcl } from '../rate-limited-web-acl';
import { addSigV4RestApi } from '../sigv4-rest-api';
import { jobSpecJsonSchema } from './job-spec-model';

export interface JobApiThrottling {
  /** Steady-state requests per second across all callers. */
  readonly rateLimit: number;
  /** Requests API Gateway admits at once above the steady rate. */
  readonly burstLimit: number;
  /** Requests one source IP may make in any five minutes before WAF blocks it. */
  readonly perIpPerFiveMinutes: number;
}

export interface JobApiProps {
  /** Drivetrain environment name; names the API, its stage logs and its web ACL. */
  readonly env: string;
  /** The job API Lambda (lambdas/api/handler.ts): every route proxies to it. */
  readonly handler: lambda.IFunction;
  /** Encrypts the access and WAF log groups. */
  readonly key: kms.IKey;
  readonly throttling: JobApiThrottling;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Routes of api/app.ts, as [path, methods]. */
export const JOB_API_ROUTES: readonly (readonly [string, readonly string[]])[] = [
  ['/jobs', ['POST', 'GET']],
  ['/jobs/{id}', ['GET', 'DELETE']],
  ['/jobs/{id}/logs', ['GET']],
  ['/queues', ['GET']],
  ['/whoami', ['GET']],
  ['/openapi.json', ['GET']],
];

/** The error body of api/errors.ts, for the responses API Gateway makes itself. */
function errorTemplate(error: string, field: string, reason: string): Record<string, string> {
  return {
    'application/json': `{"error":"${error}","message":$context.error.messageString,"fields":[{"field":"${field}","reason":"${reason}"}]}`,
  };
}

/**
 * The job API as API Gateway REST: SigV4 (IAM) auth on every method, the POST /jobs body
 * validated against the job spec's JSON Schema before the Lambda runs, per-stage
 * throttling, JSON access logs and X-Ray, and a WAF web ACL that rate-limits each source.
 */
export class JobApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly accessLogs: logs.LogGroup;
  public readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: JobApiProps) {
    super(scope, id);

    const restApi = addSigV4RestApi(this, {
      restApiName: `drivetrain-${props.env}-jobs`,
      description: `Drivetrain ${props.env} job API (SigV4)`,
      accessLogGroupName: `/drivetrain/${props.env}/api-access`,
      rateLimit: props.throttling.rateLimit,
      burstLimit: props.throttling.burstLimit,
      key: props.key,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      noCacheReason:
        "Responses are per caller (the team comes from the SigV4 identity) and job states change every dispatcher round; a cache would serve stale or other teams' data.",
    });
    this.api = restApi.api;
    this.accessLogs = restApi.accessLogs;

    const validator = this.api.addRequestValidator('BodyValidator', {
      requestValidatorName: 'job-spec-body',
      validateRequestBody: true,
      // Checks the parameters a method declares required; the routes declare none beyond their paths.
      validateRequestParameters: true,
    });
    const jobSpec = this.api.addModel('JobSpecModel', {
      modelName: 'JobSpec',
      contentType: 'application/json',
      description: 'The job spec (jobs/spec.ts), as JSON Schema draft 4',
      schema: jobSpecJsonSchema(),
    });

    // One integration (and one invoke permission per method) for the whole hono app.
    const integration = new apigateway.LambdaIntegration(props.handler, { allowTestInvoke: false });
    for (const [path, methods] of JOB_API_ROUTES) {
      const resource = this.api.root.resourceForPath(path);
      for (const method of methods) {
        const options: apigateway.MethodOptions =
          path === '/jobs' && method === 'POST'
            ? { requestValidator: validator, requestModels: { 'application/json': jobSpec } }
            : {};
        resource.addMethod(method, integration, options);
      }
    }

    // Answers API Gateway gives itself use the handler's error shape.
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigateway.ResponseType.BAD_REQUEST_BODY,
      templates: {
        'application/json':
          '{"error":"ValidationError","message":"the body does not match the job spec","fields":[{"field":"(body)","reason":"$context.error.validationErrorString"}]}',
      },
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigateway.ResponseType.DEFAULT_4XX,
      templates: errorTemplate('$context.error.responseType', '(request)', '$context.error.responseType'),
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigateway.ResponseType.DEFAULT_5XX,
      templates: errorTemplate('$context.error.responseType', '(service)', 'try again later'),
    });

    this.webAcl = addRateLimitedWebAcl(this, {
      name: `drivetrain-${props.env}-api`,
      description: 'Rate-limits each source and drops known-bad inputs before SigV4 auth runs',
      stage: this.api.deploymentStage,
      perIpPerFiveMinutes: props.throttling.perIpPerFiveMinutes,
      managedRuleGroups: [
        {
          ruleName: 'KnownBadInputs',
          groupName: 'AWSManagedRulesKnownBadInputsRuleSet',
          metricSuffix: 'known-bad-inputs',
        },
      ],
      key: props.key,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    for (const method of this.api.methods) {
      acknowledge(method, {
        'AwsSolutions-COG4':
          'The API authorizes with IAM (SigV4) so researchers and CI use their AWS roles; the team comes from the signed principal, not from a Cognito user pool.',
      });
    }
  }
}
