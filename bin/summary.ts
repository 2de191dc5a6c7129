/**
 * `npm start`, for now: synthesize every environment exactly as `cdk synth` does (offline,
 * no credentials), then summarise what each would deploy: stacks, GPU fleets, Batch queues
 * and teams. Later pillars extend `npm start` into the local platform.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allEnvironments } from '../config/environments';
import { planQueues } from '../config/queues';
import { type EnvironmentConfig, fleetGpuCapacity } from '../config/schema';

const root = join(import.meta.dirname, '..');
const outdir = join(root, 'cdk.out');

function synthesize(): number {
  const started = performance.now();
  // No AWS_* variables: proves synthesis needs no credentials.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', outdir], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('cdk synth failed');
    process.exit(result.status ?? 1);
  }
  return (performance.now() - started) / 1000;
}

interface StackArtifact {
  type: string;
  properties?: { templateFile: string; stackName?: string };
}

function stacksOf(env: string): { name: string; resources: number }[] {
  const assembly = join(outdir, `assembly-Drivetrain-${env}`);
  const manifest = JSON.parse(readFileSync(join(assembly, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, StackArtifact>;
  };
  return Object.values(manifest.artifacts)
    .filter((a) => a.type === 'aws:cloudformation:stack' && a.properties)
    .map((a) => {
      const template = JSON.parse(readFileSync(join(assembly, a.properties!.templateFile), 'utf8'));
      return { name: a.properties!.stackName ?? '', resources: Object.keys(template.Resources ?? {}).length };
    });
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => String(r[col]).length)));
  return rows.map((r) => r.map((cell, col) => String(cell).padEnd(widths[col]!)).join('  ')).join('\n');
}

function describe(config: EnvironmentConfig): string {
  const fleets = config.gpuFleets.map((f) => {
    const gpus = fleetGpuCapacity(f);
    return [
      f.name,
      f.instanceTypes.join(','),
      gpus.onDemand,
      gpus.spot,
      f.multiNode
        ? `${f.multiNode.maxNodes} x ${f.multiNode.instanceType}, ${f.multiNode.efaInterfaces} EFA`
        : '-',
    ];
  });
  const teams = config.teams.map((t) => [
    t.name,
    t.weight,
    Object.entries(t.gpuQuota)
      .map(([fleet, n]) => `${fleet}:${n}`)
      .join(' '),
    t.priorityClasses.join(','),
  ]);
  const queues = planQueues(config);
  return [
    table([['stack', 'resources'], ...stacksOf(config.name).map((s) => [s.name, s.resources])]),
    '',
    table([['GPU fleet', 'instance types', 'on-demand GPUs', 'spot GPUs', 'multi-node'], ...fleets]),
    `CPU fleet: ${config.cpuFleet.instanceClasses.join(',')}, up to ${config.cpuFleet.onDemandMaxVcpus} on-demand + ${config.cpuFleet.spotMaxVcpus} spot vCPUs`,
    '',
    `${queues.length} Batch job queues (one per Batch pool of the capacity model), one fair-share policy:`,
    table([['team', 'weight', 'GPU quota', 'priority classes'], ...teams]),
  ].join('\n');
}

/** Findings the cdk-nag packs and CDK's own template validation left unacknowledged. */
function securityFindings(): string[] {
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; violations: { ruleName: string; severity?: string }[] }[];
  };
  return report.pluginReports.flatMap((p) =>
    p.violations.filter((v) => v.severity !== 'warning').map((v) => `${p.pluginName}: ${v.ruleName}`),
  );
}

const seconds = synthesize();
for (const config of allEnvironments()) {
  console.log(
    `\n=== ${config.name}: account ${config.account}, ${config.region}, VPC ${config.network.cidr} ===`,
  );
  console.log(describe(config));
}
const findings = securityFindings();
console.log(
  findings.length === 0
    ? '\nSecurity checks (cdk-nag AwsSolutions + NIST 800-53 R5): no unacknowledged findings.'
    : `\nSecurity checks: ${findings.length} unacknowledged findings:\n  ${findings.join('\n  ')}`,
);
console.log(
  `Synthesized ${allEnvironments().length} environments offline in ${seconds.toFixed(1)} s into ${outdir}.`,
);
console.log('Deploy one with: npx cdk deploy "Drivetrain-dev/*"   (see README: Deploying to AWS)');
if (findings.length > 0) process.exit(1);
