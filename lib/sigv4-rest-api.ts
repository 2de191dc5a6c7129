import type { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface SigV4RestApiProps {
  readonly restApiName: string;
  readonly description: string;
  readonly accessLogGroupName: string;
  /** Steady-state requests per second across all callers. */
  readonly rateLimit: number;
  /** Requests API Gateway admits at once above the steady rate. */
  readonly burstLimit: number;
  /** Encrypts the access log group. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Why the stage has no API Gateway cache (NIST.800.53.R5-APIGWCacheEnabledAndEncrypted). */
  readonly noCacheReason: string;
}

export interface SigV4RestApi {
  readonly api: apigateway.RestApi;
  readonly accessLogs: logs.LogGroup;
}

/**
 * A regional API Gateway REST API whose methods all require SigV4 (IAM), with one `v1`
 * stage: throttled, X-Ray traced, with JSON access logs in a KMS-encrypted log group. Its
 * parts are children of `scope`: `AccessLogs` and `Resource`.
 */
export function addSigV4RestApi(scope: Construct, props: SigV4RestApiProps): SigV4RestApi {
  const accessLogs = new logs.LogGroup(scope, 'AccessLogs', {
    logGroupName: props.accessLogGroupName,
    encryptionKey: props.key,
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  const api = new apigateway.RestApi(scope, 'Resource', {
    restApiName: props.restApiName,
    description: props.description,
    endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
    cloudWatchRole: false,
    defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    deployOptions: {
      stageName: 'v1',
      tracingEnabled: true,
      metricsEnabled: true,
      throttlingRateLimit: props.rateLimit,
      throttlingBurstLimit: props.burstLimit,
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
    },
  });
  acknowledge(api.deploymentStage, {
    'AwsSolutions-APIG6':
      'Execution logging needs the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), a per-region singleton Drivetrain does not own; every request is in the JSON access log and in X-Ray, and the handler logs through Powertools.',
    'NIST.800.53.R5-APIGWExecutionLoggingEnabled':
      'Execution logging needs the account-wide API Gateway CloudWatch role, which Drivetrain does not own; access logs, X-Ray and the handler logs record every request.',
    'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted': props.noCacheReason,
    'NIST.800.53.R5-APIGWSSLEnabled':
      'The only integration is a Lambda proxy inside AWS; backend client certificates apply to HTTP integrations only.',
  });
  return { api, accessLogs };
}
