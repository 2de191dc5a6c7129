import { readFileSync } from 'node:fs';
import aslValidator from 'asl-validator';
import { describe, expect, test } from 'vitest';
import {
  INGEST_DEFINITION_FILE,
  type IngestSubstitutions,
  ingestPlaceholders,
  RAW_SUFFIXES,
  renderIngestDefinition,
} from '../../step-functions/ingest';

type Json = Record<string, unknown>;
interface State extends Json {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Json[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Retry?: { ErrorEquals: string[]; BackoffRate?: number; JitterStrategy?: string; MaxAttempts?: number }[];
  ItemProcessor?: Machine;
}
interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

const SAMPLE: IngestSubstitutions = {
  RawBucket: 'drivetrain-dev-raw',
  CuratedBucket: 'drivetrain-dev-curated',
  QuarantineBucket: 'drivetrain-dev-quarantine',
  RunTable: 'drivetrain-dev-etl-runs',
  EventBusName: 'default',
  FailureTopicArn: 'arn:aws:sns:us-east-1:111111111111:drivetrain-dev-etl-failures',
  GlueJobName: 'drivetrain-dev-ingest',
  EmrApplicationId: '00abcdefghijklmn',
  EmrJobRoleArn: 'arn:aws:iam::111111111111:role/drivetrain-dev-emr-ingest',
  EmrEntryPoint: 's3://drivetrain-dev-assets/ingest.py',
  EmrSparkSubmitParameters: '--conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog',
  EmrLogGroup: '/drivetrain/dev/emr-serverless',
  WarehouseUri: 's3://drivetrain-dev-curated/warehouse/',
  CatalogName: 'glue_catalog',
  GlueDatabase: 'drivetrain_dev',
  JobConfig: { "quote's": '{braces} and "quotes"' },
  MaxObjectBytes: 53_687_091_200,
  MaxObjectsPerRun: 200,
  EmrThresholdBytes: 107_374_182_400,
  EmrTimeoutMinutes: 720,
};

const definition = JSON.parse(readFileSync(INGEST_DEFINITION_FILE, 'utf8')) as Machine;

/** Every state, with the name of the machine (top level or a Map's processor) it lives in. */
function allStates(machine: Machine, scope = 'top'): [string, State, string][] {
  return Object.entries(machine.States).flatMap(([name, state]) => [
    [name, state, scope] as [string, State, string],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor, name) : []),
  ]);
}

function successors(state: State): string[] {
  return [
    state.Next,
    state.Default,
    ...(state.Choices ?? []).map((choice) => choice.Next as string),
    ...(state.Catch ?? []).map((catcher) => catcher.Next),
  ].filter((next): next is string => typeof next === 'string');
}

describe('ingest workflow ASL', () => {
  test('is valid Amazon States Language, paths and ARNs included (asl-validator)', () => {
    const { isValid, errorsText } = aslValidator(definition, { checkPaths: true, checkArn: true });

    expect(isValid, errorsText?.('\n')).toBe(true);
  });

  test('stays valid once CDK or the local runner fills the placeholders', () => {
    const rendered = JSON.parse(renderIngestDefinition(SAMPLE));

    const { isValid, errorsText } = aslValidator(rendered, { checkPaths: true, checkArn: true });

    expect(isValid, errorsText?.('\n')).toBe(true);
    expect(JSON.stringify(rendered)).not.toMatch(/\$\{\w+\}/);
  });

  test('JobConfig reaches the job as the exact JSON text, however it is quoted', () => {
    const rendered = JSON.parse(renderIngestDefinition(SAMPLE)) as Machine;

    const settings = rendered.States['Load settings']!.Parameters as { job: { config: string } };

    expect(JSON.parse(settings.job.config)).toEqual(SAMPLE.JobConfig);
  });

  test('uses exactly the placeholders IngestSubstitutions names', () => {
    expect(ingestPlaceholders()).toEqual(Object.keys(SAMPLE).sort());
  });

  test('every state is reachable and every transition names a state of its machine', () => {
    const machines: Machine[] = [
      definition,
      ...allStates(definition).flatMap(([, state]) => (state.ItemProcessor ? [state.ItemProcessor] : [])),
    ];
    for (const machine of machines) {
      const seen = new Set<string>();
      const visit = (name: string) => {
        if (seen.has(name)) return;
        expect(machine.States[name], `transition to unknown state ${name}`).toBeDefined();
        seen.add(name);
        successors(machine.States[name]!).forEach(visit);
      };
      visit(machine.StartAt);

      expect([...seen].sort()).toEqual(Object.keys(machine.States).sort());
    }
  });

  test('every Task retries, with exponential backoff and full jitter', () => {
    const tasks = allStates(definition).filter(([, state]) => state.Type === 'Task');

    expect(tasks.length).toBeGreaterThan(10);
    for (const [name, state] of tasks) {
      expect(state.Retry, name).toBeDefined();
      for (const retrier of state.Retry!) {
        expect(retrier.BackoffRate, name).toBeGreaterThan(1);
        expect(retrier.JitterStrategy, name).toBe('FULL');
      }
    }
  });

  test('from Begin run on, every Task and Map of the top level catches into Record failure', () => {
    // GIVEN the top-level states that run once the run has a record
    const failurePath = new Set(['Record failure', 'Describe failure', 'Notify failure', 'Run failed']);
    const afterBegin = new Set<string>();
    const visit = (name: string) => {
      if (afterBegin.has(name) || failurePath.has(name)) return;
      afterBegin.add(name);
      successors(definition.States[name]!).forEach(visit);
    };
    visit('Begin run');
    const guarded = [...afterBegin].filter((name) => ['Task', 'Map'].includes(definition.States[name]!.Type));

    // THEN each catches everything into the failure path
    expect(guarded).toEqual(
      expect.arrayContaining(['Begin run', 'Validate objects', 'Run Glue job', 'Publish completion']),
    );
    for (const name of guarded) {
      const { Catch } = definition.States[name]!;
      expect(
        Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'Record failure'),
        name,
      ).toBe(true);
    }
  });

  test('the failure path records the failure, notifies SNS, then fails the execution', () => {
    const { States } = definition;

    expect(States['Record failure']).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Next: 'Describe failure',
    });
    expect(States['Describe failure']!.Next).toBe('Notify failure');
    expect(States['Notify failure']).toMatchObject({
      Resource: 'arn:aws:states:::sns:publish',
      Next: 'Run failed',
    });
    expect(States['Run failed']!.Type).toBe('Fail');
  });

  test('runs the job on Glue or EMR Serverless with the .sync integrations', () => {
    const { States } = definition;

    expect(States['Run Glue job']!.Resource).toBe('arn:aws:states:::glue:startJobRun.sync');
    expect(States['Run EMR Serverless job']!.Resource).toBe(
      'arn:aws:states:::emr-serverless:startJobRun.sync',
    );
    expect(States['Choose engine']!.Choices).toEqual([
      expect.objectContaining({
        Variable: '$.totals.acceptedBytes',
        NumericGreaterThanPath: '$.settings.emrThresholdBytes',
        Next: 'Use EMR Serverless',
      }),
    ]);
  });

  test('accepts exactly the raw suffixes the contract names', () => {
    const check = definition.States['Validate objects']!.ItemProcessor!.States['Check object']!;
    const suffixRule = (check.Choices ?? []).find((choice) => choice.Next === 'Reject suffix') as {
      Not: { Or: { StringMatches: string }[] };
    };

    expect(suffixRule.Not.Or.map((rule) => rule.StringMatches.replace('*', ''))).toEqual([...RAW_SUFFIXES]);
  });
});
