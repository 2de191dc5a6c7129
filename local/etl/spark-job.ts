import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';

/** How the local stand-ins of Glue and EMR Serverless start the ingest job. */
export interface LocalJobCommand {
  /** The project's Python (`.venv/bin/python`), with pyspark and the drivetrain_spark package. */
  readonly python: string;
  /** The module both Glue's wrapper and EMR Serverless's entryPoint call. */
  readonly module: string;
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Spark's master for the local session. */
  readonly master: string;
}

export interface JobRunResult {
  readonly id: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly durationMs: number;
  /** The last lines the job wrote to stderr: the reason, when it failed. */
  readonly errorTail: string;
}

/**
 * Runs the ingest job once as a local process and resolves when it ends. Each stderr line
 * goes to `onLine` as it arrives (the job reports its stages there), so long runs show
 * progress; `signal` stops the job as BatchStopJobRun/CancelJobRun would.
 */
export function runIngestJob(
  command: LocalJobCommand,
  argv: readonly string[],
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<JobRunResult> {
  const id = `jr_${randomUUID().replaceAll('-', '')}`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command.python, ['-m', command.module, ...argv, '--master', command.master], {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    let pending = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        onLine(line);
      }
    });
    child.stdout.resume();
    const stop = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', stop, { once: true });
    child.once('error', reject);
    child.once('close', (exitCode, exitSignal) => {
      signal?.removeEventListener('abort', stop);
      if (pending.trim()) tail.push(pending);
      resolve({
        id,
        exitCode,
        signal: exitSignal,
        durationMs: performance.now() - started,
        errorTail: tail.join('\n'),
      });
    });
  });
}

/**
 * Glue hands a job its arguments as `--name value` pairs, the run's over the job's defaults;
 * spark/glue/ingest.py reads them with underscores and calls the module with dashes.
 */
export function glueArgumentsToArgv(defaults: Record<string, string>, run: Record<string, string>): string[] {
  const merged = { ...defaults, ...run };
  return Object.entries(merged).flatMap(([name, value]) => {
    if (!name.startsWith('--')) throw new Error(`Glue argument ${name} must start with --`);
    return [`--${name.slice(2).replaceAll('_', '-')}`, value];
  });
}
