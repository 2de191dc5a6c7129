/** `npm run openapi`: writes the committed OpenAPI document from the zod schemas. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument } from './openapi';

const path = join(import.meta.dirname, 'openapi.json');
writeFileSync(path, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log(`wrote ${path}`);
