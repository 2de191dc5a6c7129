import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { z } from 'zod';
import { jobSpecSchema } from '../../jobs/spec';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JSON Schema keywords CDK spells without the `$` (it adds it back when it renders the model). */
const PREFIXED: Record<string, string> = { $schema: 'schema', $ref: 'ref' };

function withCdkKeywords(node: Json, keysAreNames = false): Json {
  if (Array.isArray(node)) return node.map((entry) => withCdkKeywords(entry));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      keysAreNames ? key : (PREFIXED[key] ?? key),
      // Under `properties` the keys are field names, never keywords.
      withCdkKeywords(value, !keysAreNames && key === 'properties'),
    ]),
  );
}

/**
 * The POST /jobs body as API Gateway validates it: the zod job spec rendered as JSON
 * Schema draft 4 (the only draft API Gateway models accept), for the input side, so fields
 * with defaults stay optional. Cross-field rules (gpuType required when gpus > 0) and the
 * variable/tag name patterns are checks draft 4 cannot express; the handler parses the
 * body with the same zod schema and enforces them.
 */
export function jobSpecJsonSchema(): apigateway.JsonSchema {
  const schema = z.toJSONSchema(jobSpecSchema, { target: 'draft-4', io: 'input' }) as Json;
  return withCdkKeywords(schema) as apigateway.JsonSchema;
}
