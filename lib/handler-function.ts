import { join } from 'node:path';
import { ArnFormat, type Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcards } from './nag';

/** Where the handlers live: `lambdas/<name>/handler.ts`. */
const LAMBDAS = join(import.meta.dirname, '..', 'lambdas');

/** The runtime the handlers are tested on (the machines run Node 20 and 22). */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_22_X;

export interface HandlerFunctionProps {
  /** Folder under `lambdas/` whose `handler.ts` exports `handler`. */
  readonly handler: 'api' | 'dispatcher' | 'features/api' | 'features/load';
  readonly description: string;
  /** Powertools service name; also names the log group. */
  readonly serviceName: string;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  /** Encrypts the function's log group (and whatever `statements` name it for). */
  readonly key: kms.IKey;
  readonly environment: Record<string, string>;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** @default six months */
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Everything the handler may call besides its own logs, X-Ray and its VPC network
   * interfaces. They go into a customer-managed policy, as do those three.
   */
  readonly statements: iam.PolicyStatement[];
  /**
   * Why each wildcard resource in `statements` is needed (cdk-nag AwsSolutions-IAM5); the
   * entry for `*` adds to the reason this construct gives for its own `*` grants.
   */
  readonly wildcardReasons?: Record<string, string>;
  /** @default - no reservation */
  readonly reservedConcurrentExecutions?: number;
  /** Where failed asynchronous invocations go. @default - none */
  readonly deadLetterQueue?: sqs.IQueue;
}

export interface HttpsEgressSecurityGroupProps {
  readonly vpc: ec2.IVpc;
  readonly description: string;
  /** Says which AWS APIs the function reaches over HTTPS. */
  readonly egressDescription: string;
}

/**
 * A handler's security group: no ingress, and egress only to port 443, where the VPC
 * endpoints, the gateway endpoints' prefix lists, NAT and the EKS API all listen.
 */
export function httpsEgressSecurityGroup(
  scope: Construct,
  id: string,
  props: HttpsEgressSecurityGroupProps,
): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, id, {
    vpc: props.vpc,
    description: props.description,
    allowAllOutbound: false,
  });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), props.egressDescription);
  return group;
}

/**
 * A Drivetrain Lambda handler bundled with the local esbuild (never Docker): in the VPC's
 * private subnets, X-Ray active, Powertools configured, logging into its own KMS-encrypted
 * log group, with a role that has no inline policy and no AWS managed policy, only a
 * customer-managed policy that the construct writes out in full.
 */
export class HandlerFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly policy: iam.ManagedPolicy;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);

    const logGroupName = `/aws/lambda/${props.serviceName}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      encryptionKey: props.key,
      retention: props.logRetention ?? logs.RetentionDays.SIX_MONTHS,
      removalPolicy: props.removalPolicy,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    const networkInterfaces = [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ];
    const logStreams = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `${logGroupName}:log-stream:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `${props.serviceName}: ${props.description}`,
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logStreams],
        }),
        new iam.PolicyStatement({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({ actions: networkInterfaces, resources: ['*'] }),
        ...props.statements,
      ],
    });
    const { '*': extraWildcard, ...otherWildcards } = props.wildcardReasons ?? {};
    acknowledgeWildcards(stack, this.policy, {
      ...otherWildcards,
      '*': [
        'X-Ray segment upload and the EC2 network-interface actions Lambda needs to run in a VPC have no resource-level permissions (the same actions AWSLambdaVPCAccessExecutionRole grants on *).',
        extraWildcard,
      ]
        .filter(Boolean)
        .join(' '),
      [logStreams]:
        "Lambda names each execution environment's log stream at run time; the grant stays inside this function's own log group.",
    });

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(LAMBDAS, props.handler, 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      // Every grant lives in the managed policy above; CDK's own additions would be inline.
      role: this.role.withoutPolicyUpdates(),
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [props.securityGroup],
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: props.deadLetterQueue,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'Drivetrain',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node20',
        // The exact SDK versions the handlers are tested with, not whatever the runtime ships.
        externalModules: [],
        forceDockerBundling: false,
      },
    });
    // A VPC function is created only once its role may manage network interfaces.
    this.function.node.addDependency(this.policy);

    acknowledge(this.function, {
      'AwsSolutions-L1': `Node.js ${HANDLER_RUNTIME.name.replace('nodejs', '')} is the newest runtime the handlers are tested on (the build machines run Node 20 and 22; bundles target node20); it moves with that test matrix.`,
    });
  }
}
