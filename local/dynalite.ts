import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const require = createRequire(import.meta.url);
const dynaliteCli = join(dirname(require.resolve('dynalite/package.json')), 'cli.js');

export interface LocalDynamoDb {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

/**
 * DynamoDB on this machine: dynalite in its own process, as DynamoDB is its own service (and
 * so it has a core of its own rather than sharing the API's event loop). Persisted to `path`
 * (LevelDB) so jobs survive restarts, or in memory when no path is given (tests).
 */
export async function startLocalDynamoDb(options: { path?: string } = {}): Promise<LocalDynamoDb> {
  // dynalite's CLI treats port 0 as "use 4567", so pick a free port first.
  const freePort = await unusedPort();
  const args = [
    dynaliteCli,
    '--host',
    '127.0.0.1',
    '--port',
    String(freePort),
    '--createTableMs',
    '0',
    '--deleteTableMs',
    '0',
    '--updateTableMs',
    '0',
  ];
  if (options.path) args.push('--path', options.path);
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never leave a database server behind when this process ends, however it ends.
  const stopServer = () => server.kill('SIGTERM');
  process.once('exit', stopServer);
  const port = await listeningPort(server);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      process.removeListener('exit', stopServer);
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A DynamoDB client for dynalite at `endpoint`. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    // dynalite accepts any credentials; fixed ones keep the SDK from searching for real ones.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    // Enough sockets for a burst of concurrent API requests, each kept alive.
    requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 64 } }),
  });
}

/** dynalite prints "Dynalite listening at: http://127.0.0.1:<port>" once it accepts connections. */
function listeningPort(server: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening at: \S+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    server.once('error', reject);
    server.once('exit', (code) => reject(new Error(`dynalite exited with ${code} before listening`)));
  });
}
