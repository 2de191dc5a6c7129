import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { openApiDocument } from '../../api/openapi';

test('the committed api/openapi.json is what the zod schemas generate (run `npm run openapi`)', () => {
  const committed = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', '..', 'api', 'openapi.json'), 'utf8'),
  );

  expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
});

test('the document describes every route of the job API', () => {
  const paths = Object.keys(openApiDocument().paths ?? {});

  expect(paths.sort()).toEqual(['/jobs', '/jobs/{id}', '/jobs/{id}/logs', '/queues']);
});
