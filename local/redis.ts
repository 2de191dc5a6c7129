import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { unusedPort } from './dynalite';

export interface LocalRedis {
  readonly port: number;
  readonly url: string;
  /** The redis-server process, for tests that stop it mid-run. */
  readonly process: ChildProcess;
  close(): Promise<void>;
}

/**
 * ElastiCache on this machine: Debian's redis-server (installed by scripts/bootstrap.sh) on a
 * free loopback port, its dump under `dataDir` when given (else nothing is written to disk).
 * It ends with this process: on exit, and through a watchdog if this process is killed.
 */
export async function startLocalRedis(options: { dataDir?: string } = {}): Promise<LocalRedis> {
  const port = await unusedPort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'yes',
    '--appendonly',
    'no',
  ];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('--dir', options.dataDir, '--save', '300 1');
  } else {
    args.push('--save', '');
  }
  const server = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const stopServer = () => server.kill('SIGTERM');
  process.once('exit', stopServer);
  // A SIGKILL of this process runs no exit handler: the watchdog stops the server then.
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill ${server.pid} 2>/dev/null`],
    { stdio: 'ignore', detached: true },
  );
  watchdog.unref();
  await ready(server, port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: server,
    close: async () => {
      process.removeListener('exit', stopServer);
      watchdog.kill('SIGTERM');
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function ready(server: ChildProcess, port: number): Promise<void> {
  const exited = new Promise<never>((_, reject) =>
    server.once('exit', (code) =>
      reject(new Error(`redis-server exited with ${code} before accepting connections`)),
    ),
  );
  const probe = async () => {
    for (let i = 0; i < 200; i++) {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 25));
      } finally {
        client.disconnect();
      }
    }
    throw new Error(`redis-server on port ${port} did not accept connections`);
  };
  await Promise.race([probe(), exited]);
}
