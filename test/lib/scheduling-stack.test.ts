import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { jobSpecSchema } from '../../jobs/spec';
import { JOB_TABLE } from '../../jobs/store/job-table';
import type { DrivetrainStage } from '../../lib/drivetrain-stage';
import { computeTemplate, propertiesOf, schedulingTemplate, stageOf } from './app-fixture';

type Json = Record<string, unknown>;

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Statements of every managed or inline policy attached to a role of the template. */
function statementsOfRole(template: Template, roleId: string): Statement[] {
  return ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy'].flatMap((type) =>
    propertiesOf(template, type)
      .filter((p) => asList(p.Roles as Json[]).some((role) => role.Ref === roleId))
      .flatMap((p) => (p.PolicyDocument as { Statement: Statement[] }).Statement),
  );
}

const granting = (statements: Statement[], action: string) =>
  statements.filter((s) => asList(s.Action).includes(action));

describe('SchedulingStack', () => {
  let stage: DrivetrainStage;
  let template: Template;
  let dispatcherId: string;
  let dispatcherStatements: Statement[];

  beforeAll(() => {
    stage = stageOf('dev');
    template = schedulingTemplate('dev');
    dispatcherId = logicalId(stage.scheduling, stage.scheduling.dispatcher.function);
    dispatcherStatements = statementsOfRole(
      template,
      logicalId(stage.scheduling, stage.scheduling.dispatcher.role),
    );
  });

  test('is named Drivetrain-<env>-Scheduling', () => {
    expect(stage.scheduling.stackName).toBe('Drivetrain-dev-Scheduling');
  });

  describe('job table', () => {
    test('has the key schema and GSIs of JOB_TABLE', () => {
      // GIVEN the table description the local runtime and the store share
      const expectedIndexes = Object.values(JOB_TABLE.indexes).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      }));

      // WHEN the stack is synthesized
      const [table] = propertiesOf(template, 'AWS::DynamoDB::Table');

      // THEN the deployed table has exactly that shape
      expect(table?.KeySchema).toEqual([{ AttributeName: JOB_TABLE.partitionKey, KeyType: 'HASH' }]);
      expect(table?.GlobalSecondaryIndexes).toEqual(expect.arrayContaining(expectedIndexes));
      expect(table?.GlobalSecondaryIndexes).toHaveLength(expectedIndexes.length);
    });

    test('is on-demand, KMS-encrypted with point-in-time recovery', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    });

    test('is deletion-protected where the environment retains data', () => {
      schedulingTemplate('prod').hasResourceProperties('AWS::DynamoDB::Table', {
        DeletionProtectionEnabled: true,
      });
    });
  });

  describe('dispatcher', () => {
    test('has reserved concurrency 1 so rounds never race', () => {
      expect(template.toJSON().Resources[dispatcherId].Properties.ReservedConcurrentExecutions).toBe(1);
    });

    test('sends failed asynchronous invocations to a KMS-encrypted dead-letter queue', () => {
      const { DeadLetterConfig } = template.toJSON().Resources[dispatcherId].Properties;
      const queueId = (DeadLetterConfig.TargetArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;

      expect(template.toJSON().Resources[queueId].Properties.KmsMasterKeyId).toBeDefined();
    });

    test.each([
      ['the schedule', { ScheduleExpression: 'rate(1 minute)' }],
      [
        'job submissions',
        { EventPattern: { source: ['drivetrain.jobs'], 'detail-type': ['Drivetrain Job Submitted'] } },
      ],
      // Batch and SageMaker state changes reach it through SQS: test/lib/dispatcher-triggers.test.ts.
    ])('is woken by %s, with retries and a dead-letter queue', (_name, trigger) => {
      template.hasResourceProperties('AWS::Events::Rule', {
        ...trigger,
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [dispatcherId, 'Arn'] },
            DeadLetterConfig: { Arn: Match.anyValue() },
            RetryPolicy: {
              MaximumRetryAttempts: Match.anyValue(),
              MaximumEventAgeInSeconds: Match.anyValue(),
            },
          }),
        ],
      });
    });

    test('may submit to Batch only in Drivetrain queues with Drivetrain job definitions', () => {
      // GIVEN every queue the Compute stack creates
      const queueArns = stage.compute.queuePlans.map(
        (plan) => `arn:aws:batch:us-east-1:111111111111:job-queue/${plan.name}`,
      );

      // WHEN the SubmitJob grants are collected
      const resources = granting(dispatcherStatements, 'batch:SubmitJob').flatMap((s) => asList(s.Resource));

      // THEN they name those queues and drivetrain-dev-* definitions, and never '*'
      expect(resources).not.toContain('*');
      expect(new Set(resources)).toEqual(
        new Set([...queueArns, 'arn:aws:batch:us-east-1:111111111111:job-definition/drivetrain-dev-*']),
      );
    });

    test('may pass only the Batch job roles and the SageMaker role, each to its service', () => {
      // GIVEN the roles the Compute stack gives Batch jobs and SageMaker training jobs
      const { compute } = stage;
      const container = compute.jobDefinitions.singleNodeGpu.container;
      const expected = new Map([
        [logicalId(compute, container.jobRole!), 'batch.amazonaws.com'],
        [logicalId(compute, container.executionRole), 'batch.amazonaws.com'],
        [logicalId(compute, compute.sagemaker.executionRole), 'sagemaker.amazonaws.com'],
      ]);
      const outputs = computeTemplate('dev').toJSON().Outputs as Record<string, { Value: unknown }>;
      const roleOf = (resource: unknown) => {
        const { OutputName } = (resource as { 'Fn::GetStackOutput': { OutputName: string } })[
          'Fn::GetStackOutput'
        ];
        return (outputs[OutputName]!.Value as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      };

      // WHEN the PassRole grants are collected
      const passed = granting(dispatcherStatements, 'iam:PassRole').flatMap((s) =>
        asList(s.Resource).map((resource) => [
          roleOf(resource),
          s.Condition?.StringEquals?.['iam:PassedToService'],
        ]),
      );

      // THEN each named role goes only to its own service
      expect(new Map(passed as [string, string][])).toEqual(expected);
      expect(passed).toHaveLength(expected.size);
    });

    test('may create, stop and tag only dt- training jobs', () => {
      const actions = ['sagemaker:CreateTrainingJob', 'sagemaker:StopTrainingJob', 'sagemaker:AddTags'];

      const resources = actions.flatMap((action) =>
        granting(dispatcherStatements, action).flatMap((s) => asList(s.Resource)),
      );

      expect(new Set(resources)).toEqual(
        new Set(['arn:aws:sagemaker:us-east-1:111111111111:training-job/dt-*']),
      );
    });

    test('has no inline policy: every grant is in a customer-managed policy', () => {
      const roleId = logicalId(stage.scheduling, stage.scheduling.dispatcher.role);

      const inline = propertiesOf(template, 'AWS::IAM::Policy').filter((p) =>
        asList(p.Roles as Json[]).some((role) => role.Ref === roleId),
      );

      expect(inline).toEqual([]);
    });

    test('is mapped to a Kubernetes group that may run RayJobs in every team namespace', () => {
      // GIVEN the team namespaces of the Kubernetes stack
      const namespaces = [...stage.kubernetes.teamNamespaces.values()].map((team) => team.namespace);

      // WHEN the access entry and the RBAC manifest are read
      const [entry] = propertiesOf(template, 'AWS::EKS::AccessEntry');
      const objects = propertiesOf(template, 'Custom::AWSCDK-EKS-KubernetesResource').flatMap(
        (p) => JSON.parse(p.Manifest as string) as { kind: string; metadata: { namespace?: string } }[],
      );

      // THEN the role's group is bound in each namespace
      expect(entry?.KubernetesGroups).toEqual(['drivetrain-dispatcher']);
      expect(objects.filter((o) => o.kind === 'RoleBinding').map((o) => o.metadata.namespace)).toEqual(
        namespaces,
      );
    });
  });

  describe('job API', () => {
    test('authorizes every method with IAM (SigV4)', () => {
      const methods = propertiesOf(template, 'AWS::ApiGateway::Method');

      expect(methods.map((m) => `${m.HttpMethod} ${m.AuthorizationType}`)).toEqual(
        methods.map((m) => `${m.HttpMethod} AWS_IAM`),
      );
      expect(methods).toHaveLength(7);
    });

    test('validates the POST /jobs body against a model that requires the spec’s required fields', () => {
      // GIVEN the fields a client must send, from the zod spec
      const required = z.toJSONSchema(jobSpecSchema, { target: 'draft-4', io: 'input' }).required;

      // WHEN the POST /jobs method and its model are read
      const [post] = propertiesOf(template, 'AWS::ApiGateway::Method').filter((m) => m.HttpMethod === 'POST');
      const [modelId, model] = Object.entries(template.findResources('AWS::ApiGateway::Model'))[0]!;
      const [validator] = propertiesOf(template, 'AWS::ApiGateway::RequestValidator');

      // THEN the gateway rejects a body the spec would reject for missing fields
      expect(post?.RequestValidatorId).toBeDefined();
      expect(validator?.ValidateRequestBody).toBe(true);
      expect(post?.RequestModels).toEqual({ 'application/json': { Ref: modelId } });
      expect(model.Properties.Schema.required).toEqual(required);
      expect(required).toEqual(expect.arrayContaining(['name', 'image', 'command', 'resources']));
    });

    test('throttles the stage, logs access to an encrypted log group and traces with X-Ray', () => {
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        TracingEnabled: true,
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
        MethodSettings: Match.arrayWith([
          Match.objectLike({ ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() }),
        ]),
      });
    });

    test('is behind a WAF web ACL with a per-IP rate-based rule', () => {
      template.hasResourceProperties('AWS::WAFv2::WebACL', {
        Rules: Match.arrayWith([
          Match.objectLike({
            Statement: { RateBasedStatement: Match.objectLike({ AggregateKeyType: 'IP' }) },
          }),
        ]),
      });
      template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    });

    test('may put only Drivetrain job events on the default bus', () => {
      const roleId = logicalId(stage.scheduling, stage.scheduling.apiFunction.role);

      const [putEvents] = granting(statementsOfRole(template, roleId), 'events:PutEvents');

      expect(putEvents?.Resource).toBe('arn:aws:events:us-east-1:111111111111:event-bus/default');
      expect(putEvents?.Condition?.StringEquals?.['events:source']).toBe('drivetrain.jobs');
    });

    test("may read job logs only from the environment's Batch job log group", () => {
      const roleId = logicalId(stage.scheduling, stage.scheduling.apiFunction.role);

      const [readLogs] = granting(statementsOfRole(template, roleId), 'logs:GetLogEvents');

      expect(readLogs?.Resource).toBe(
        'arn:aws:logs:us-east-1:111111111111:log-group:/drivetrain/dev/batch:log-stream:*',
      );
    });
  });

  describe('alarms', () => {
    test.each([
      ['dispatcher errors', 'AWS/Lambda', 'Errors'],
      ['dispatcher throttles', 'AWS/Lambda', 'Throttles'],
      ['dead letters', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible'],
      ['API 5xx', 'AWS/ApiGateway', '5XXError'],
    ])('alarm on %s and notify the encrypted topic', (_name, namespace, metricName) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: namespace,
        MetricName: metricName,
        AlarmActions: [{ Ref: Match.anyValue() }],
      });
    });

    test('cover both Lambdas’ errors and both dead-letter queues', () => {
      const alarms = propertiesOf(template, 'AWS::CloudWatch::Alarm');

      const count = (metricName: string) => alarms.filter((a) => a.MetricName === metricName).length;

      expect(count('Errors')).toBe(2);
      expect(count('ApproximateNumberOfMessagesVisible')).toBe(2);
    });

    test('go to a KMS-encrypted topic', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    });
  });

  test('outputs the API URL, the table name and the alarm topic', () => {
    const outputs = Object.keys(template.toJSON().Outputs);

    expect(outputs).toEqual(expect.arrayContaining(['ApiUrl', 'JobTableName', 'AlarmTopicArn']));
  });
});
