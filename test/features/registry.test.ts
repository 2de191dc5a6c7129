import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { environmentConfig } from '../../config/environments';
import { DRIVETRAIN_FEATURES } from '../../features/definitions/drivetrain';
import {
  buildRegistry,
  REGISTRY_PATH,
  serializeRegistry,
  TRANSFORMS_DIR,
} from '../../features/definitions/registry';
import { type FeatureDefinitionsInput, parseDefinitions } from '../../features/definitions/schema';

const root = join(import.meta.dirname, '..', '..');

describe('feature definitions', () => {
  test('the committed registry artifact is what the definitions and transforms produce', () => {
    const built = serializeRegistry(buildRegistry(parseDefinitions(DRIVETRAIN_FEATURES), root));

    expect(readFileSync(join(root, REGISTRY_PATH), 'utf8'), 'run npm run features:registry').toBe(built);
  });

  test.each([
    [
      'an unknown entity',
      (d: FeatureDefinitionsInput) => {
        d.featureViews[0]!.entity = 'boat';
      },
      'featureViews.0.entity',
    ],
    [
      'a feature named like a join key',
      (d: FeatureDefinitionsInput) => {
        d.featureViews[0]!.features[0]!.name = 'drive_id';
      },
      'featureViews.0.features.0.name',
    ],
    [
      'a service of an unknown view',
      (d: FeatureDefinitionsInput) => {
        d.featureServices![0]!.views[0]!.view = 'nope';
      },
      'featureServices.0.views.0.view',
    ],
    [
      'a service naming a feature its view lacks',
      (d: FeatureDefinitionsInput) => {
        d.featureServices![0]!.views[0]!.features = ['nope'];
      },
      'featureServices.0.views.0.features.0',
    ],
    [
      'a negative TTL',
      (d: FeatureDefinitionsInput) => {
        d.featureViews[0]!.ttlSeconds = -1;
      },
      'featureViews.0.ttlSeconds',
    ],
  ])('%s is refused, naming the field', (_what, mutate, path) => {
    const definitions = structuredClone(DRIVETRAIN_FEATURES);
    mutate(definitions);

    expect(() => parseDefinitions(definitions)).toThrow(path);
  });

  test('every team a feature service grants exists in every environment', () => {
    for (const env of ['dev', 'staging', 'prod'] as const) {
      const teams = new Set(environmentConfig(env).teams.map((t) => t.name));
      for (const service of DRIVETRAIN_FEATURES.featureServices ?? []) {
        for (const team of service.teams)
          expect(teams.has(team), `${service.name}: ${team} in ${env}`).toBe(true);
      }
    }
  });
});

describe('view versions', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'drivetrain-registry-'));
  cpSync(join(root, TRANSFORMS_DIR), join(scratch, TRANSFORMS_DIR), { recursive: true });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const versions = () =>
    Object.fromEntries(
      buildRegistry(parseDefinitions(DRIVETRAIN_FEATURES), scratch).featureViews.map((v) => [
        v.name,
        v.version,
      ]),
    );
  const edit = (module: string) => {
    const path = join(scratch, TRANSFORMS_DIR, `${module}.py`);
    writeFileSync(path, `${readFileSync(path, 'utf8')}\n# edited\n`);
  };

  test('editing one transform changes that view version only', () => {
    const before = versions();
    edit('drive_imu');
    const after = versions();

    const changed = Object.keys(before).filter((name) => before[name] !== after[name]);
    expect(changed).toEqual(['drive_imu']);
  });

  test('editing a module that transforms import changes the version of each view importing it', () => {
    const before = versions();
    edit('kinematics');
    const after = versions();

    const changed = Object.keys(before).filter((name) => before[name] !== after[name]);
    expect(changed.sort()).toEqual(['drive_motion', 'drive_second_motion']);
  });

  test('changing a definition (a TTL) changes that view version only', () => {
    const definitions = structuredClone(DRIVETRAIN_FEATURES);
    definitions.featureViews.find((v) => v.name === 'drive_hard_braking')!.ttlSeconds = 60;
    const before = versions();
    const after = Object.fromEntries(
      buildRegistry(parseDefinitions(definitions), scratch).featureViews.map((v) => [v.name, v.version]),
    );

    expect(Object.keys(before).filter((name) => before[name] !== after[name])).toEqual([
      'drive_hard_braking',
    ]);
  });
});
