import { modelViolations, serviceModel } from '../backends/service-model';

/**
 * The AWS request each Task of the ingest workflow makes, checked against the service's
 * published model (botocore's service-2.json). Step Functions takes Parameters in PascalCase
 * and sends the API's own member names; for its optimized integrations it sends a JSON value
 * as text where the API takes a string (SNS Message, EventBridge Detail, StartExecution Input)
 * — "Pass parameters to a service API", AWS Step Functions Developer Guide.
 */

const OPERATIONS: Record<string, [service: string, operation: string]> = {
  'arn:aws:states:::aws-sdk:s3:headObject': ['s3', 'HeadObject'],
  'arn:aws:states:::aws-sdk:s3:listObjectsV2': ['s3', 'ListObjectsV2'],
  'arn:aws:states:::aws-sdk:s3:copyObject': ['s3', 'CopyObject'],
  'arn:aws:states:::aws-sdk:s3:putObject': ['s3', 'PutObject'],
  'arn:aws:states:::aws-sdk:s3:getObject': ['s3', 'GetObject'],
  'arn:aws:states:::dynamodb:putItem': ['dynamodb', 'PutItem'],
  'arn:aws:states:::dynamodb:getItem': ['dynamodb', 'GetItem'],
  'arn:aws:states:::dynamodb:updateItem': ['dynamodb', 'UpdateItem'],
  'arn:aws:states:::events:putEvents': ['events', 'PutEvents'],
  'arn:aws:states:::sns:publish': ['sns', 'Publish'],
  'arn:aws:states:::states:startExecution': ['stepfunctions', 'StartExecution'],
  'arn:aws:states:::glue:startJobRun.sync': ['glue', 'StartJobRun'],
  'arn:aws:states:::emr-serverless:startJobRun.sync': ['emr-serverless', 'StartJobRun'],
};

/** Members Step Functions serialises from JSON to text for its optimized integrations. */
const JSON_AS_TEXT = new Set([
  'sns.Publish.Message',
  'events.PutEventsRequestEntry.Detail',
  'stepfunctions.StartExecution.input',
]);

export function requestViolations(resource: string, parameters: unknown): string[] {
  const target = OPERATIONS[resource];
  if (!target) return [`${resource}: no API model mapped`];
  const [service, operation] = target;
  const model = serviceModel(service);
  const input = model.operations[operation]?.input?.shape;
  if (!input) return [`${service} has no operation ${operation}`];
  const request = asSent(model, service, input, parameters);
  return modelViolations(service, operation, request).map((problem) => `${resource}: ${problem}`);
}

type Model = ReturnType<typeof serviceModel>;

/** The Parameters as the service receives them: its member names, JSON text where it takes text. */
function asSent(model: Model, service: string, shapeName: string, value: unknown): unknown {
  const shape = model.shapes[shapeName];
  if (!shape || value === null || typeof value !== 'object') return value;
  if (shape.type === 'list' && Array.isArray(value)) {
    return value.map((item) => asSent(model, service, shape.member!.shape, item));
  }
  if (shape.type === 'map') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, asSent(model, service, shape.value!.shape, item)]),
    );
  }
  if (shape.type !== 'structure') return value;
  const members = Object.entries(shape.members ?? {});
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const [name, ref] = members.find(([member]) => member.toLowerCase() === key.toLowerCase()) ?? [
        key,
        undefined,
      ];
      if (!ref) return [key, item];
      const text =
        JSON_AS_TEXT.has(`${service}.${shapeName}.${name}`) ||
        JSON_AS_TEXT.has(`${service}.${operationOf(model, shapeName)}.${name}`);
      return [
        name,
        text && typeof item !== 'string' ? JSON.stringify(item) : asSent(model, service, ref.shape, item),
      ];
    }),
  );
}

function operationOf(model: Model, shapeName: string): string | undefined {
  return Object.entries(model.operations).find(([, op]) => op.input?.shape === shapeName)?.[0];
}
