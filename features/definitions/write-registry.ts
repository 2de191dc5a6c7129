/**
 * `npm run features:registry`: validates the definitions and writes `features/registry.json`.
 * With --check, exits 1 if the committed file is not what the definitions produce.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DRIVETRAIN_FEATURES } from './drivetrain';
import { buildRegistry, REGISTRY_PATH, serializeRegistry } from './registry';
import { parseDefinitions } from './schema';

const root = join(import.meta.dirname, '..', '..');
const text = serializeRegistry(buildRegistry(parseDefinitions(DRIVETRAIN_FEATURES), root));
const path = join(root, REGISTRY_PATH);
if (process.argv.includes('--check')) {
  const current = readFileSync(path, 'utf8');
  if (current !== text) {
    console.error(`${REGISTRY_PATH} is out of date: run npm run features:registry`);
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  console.log(`wrote ${REGISTRY_PATH}`);
}
