/**
 * `npm run bench:api`: autocannon against the local runtime's POST /jobs, with GET /healthz
 * (same server, no storage) measured in the same run as the baseline. Writes JSON with --out.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_TEAM_HEADER } from '../api/identity';
import { localRuntimeConfig } from '../config/local';
import { startLocalPlatform } from '../local/platform';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
  },
});
const duration = Number(values.seconds);
const connections = Number(values.connections);

const dataDir = mkdtempSync(join(tmpdir(), 'drivetrain-bench-'));
const platform = await startLocalPlatform({ ...localRuntimeConfig({}, process.cwd()), port: 0, dataDir });

const spec = JSON.stringify({
  name: 'load',
  image: 'python:3.11',
  command: ['true'],
  // A GPU type no local pool has room for keeps jobs pending, as a real backlog would be.
  resources: { gpus: 8, gpuType: 'a100', cpus: 8, memoryMiB: 65_536 },
  priorityClass: 'preemptible',
});

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}

/** autocannon in its own process, as a client would be: it must not share the server's event loop. */
function autocannon(args: string[]): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'npx',
      ['autocannon', '--json', '-c', String(connections), '-d', String(duration), ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`autocannon exited ${code}`)),
    );
  });
}

async function run(title: string, path: string, args: string[] = []) {
  const result = await autocannon([...args, `${platform.url}${path}`]);
  const summary = {
    title,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts + result.non2xx,
    statusCodes: result.statusCodeStats,
    requests: result.requests.total,
  };
  console.log(
    `${title.padEnd(14)} ${summary.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${summary.p50Ms} ms  p99 ${summary.p99Ms} ms  max ${summary.maxMs} ms  errors ${summary.errors} of ${summary.requests}`,
  );
  return summary;
}

console.log(`autocannon: ${connections} connections, ${duration} s each, against ${platform.url}`);
const baseline = await run('GET /healthz', '/healthz');
const submit = await run('POST /jobs', '/jobs', [
  '-m',
  'POST',
  '-H',
  'content-type=application/json',
  '-H',
  `${LOCAL_TEAM_HEADER}=perception`,
  '-b',
  spec,
]);
const report = {
  connections,
  durationS: duration,
  baseline,
  submit,
  submitVsBaseline: submit.requestsPerSecond / baseline.requestsPerSecond,
  goals: { requestsPerSecond: 1000, p99Ms: 20 },
};
console.log(
  `POST /jobs runs at ${(report.submitVsBaseline * 100).toFixed(0)}% of the no-storage baseline; goal >= 1000 req/s with p99 <= 20 ms: ${submit.requestsPerSecond >= 1000 && submit.p99Ms <= 20 ? 'met' : 'missed'}`,
);
if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
await platform.close();
rmSync(dataDir, { recursive: true, force: true });
