/**
 * `npm run bench:etl -- --out <file.json>`: the sensor ETL job (local Spark, `local[2]`) on a
 * >= 1 GB MCAP and >= 50 M CAN frames built from the shared real logs, against the `mcap`
 * reader's raw read of the same file in the same run, plus a scale series (0.25/0.5/1 GB).
 * The measuring is done by `drivetrain_spark.benchmark` (spark/); this starts it after making
 * sure the virtualenv and the Iceberg jar are installed. Other flags are passed through
 * (`--gb`, `--scale`, `--can-frames`, `--work`).
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
if (!args.includes('--out')) {
  console.error(
    'usage: npm run bench:etl -- --out <file.json> [--gb 1] [--scale 0.25,0.5,1] [--can-frames N]',
  );
  process.exit(2);
}

const bootstrap = spawnSync('bash', [join(root, 'scripts', 'bootstrap.sh')], { stdio: 'inherit' });
if (bootstrap.status !== 0) process.exit(bootstrap.status ?? 1);

const python = join(root, '.venv', 'bin', 'python');
if (!existsSync(python)) throw new Error(`${python} is missing after bootstrap`);
const run = spawnSync(python, ['-m', 'drivetrain_spark.benchmark', ...args], { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
