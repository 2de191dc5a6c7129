import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { reapPidFile, recordProcess, writePidFile } from './pid-files';

const SERVER = new URL('./dynalite-server.mjs', import.meta.url).pathname;
const CLOSE_GRACE_MS = 10_000;

export interface LocalDynamoDb {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

export interface LocalDynamoDbOptions {
  /** LevelDB directory; in memory when absent (tests). */
  readonly path?: string;
  /**
   * Where the server's pid file goes. At start, a server a SIGKILLed runtime left behind is
   * killed from it first (it would hold the LevelDB lock).
   */
  readonly runDir?: string;
  /** Called when the server died and was started again. */
  readonly onRestart?: (exitCode: number | null) => void;
}

/**
 * DynamoDB on this machine: dynalite in its own process, as DynamoDB is its own service (and
 * so it has a core of its own rather than sharing the API's event loop). Persisted to `path`
 * (LevelDB) so jobs survive restarts, or in memory when no path is given (tests). The server
 * exits when this process does, however it ends; a persisted one that dies (a kill -9) is
 * started again on the same port, so clients only see a few refused connections, which the
 * SDK retries. A start over a persisted store first rebuilds the secondary indexes from the
 * items (see dynalite-index-repair.mjs), as a kill can cut dynalite's index writes short; after
 * a clean `close()` (which leaves a marker beside the store) it skips that pass.
 */
export async function startLocalDynamoDb(options: LocalDynamoDbOptions = {}): Promise<LocalDynamoDb> {
  const pidFile = options.runDir && join(options.runDir, 'dynalite.pid');
  if (pidFile) {
    mkdirSync(options.runDir!, { recursive: true });
    await reapPidFile(pidFile);
  }
  let closing = false;
  let server = await startServer(0, options.path);
  const port = server.port;
  if (pidFile) writePidFile(pidFile, recordProcess(server.process.pid!));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDbClient(endpoint);

  const supervise = (child: ChildProcess) =>
    child.once('exit', async (code) => {
      // In memory, a restart would come back empty: better to fail loudly than to lose jobs.
      if (closing || !options.path) return;
      for (let tries = 0; !closing; tries++) {
        try {
          server = await startServer(port, options.path);
          break;
        } catch (error) {
          if (tries >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      if (pidFile) writePidFile(pidFile, recordProcess(server.process.pid!));
      supervise(server.process);
      options.onRestart?.(code);
    });
  supervise(server.process);

  return {
    endpoint,
    client,
    close: async () => {
      closing = true;
      client.destroy();
      const child = server.process;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        // A drain that hangs (a client holding a request open) ends as a kill: the next start
        // then repairs the indexes, as after any unclean end.
        const forced = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
        await exited;
        clearTimeout(forced);
      }
      if (pidFile) rmSync(pidFile, { force: true });
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
    // Enough tries (with the SDK's backoff) to ride out a restart of a killed dynalite.
    maxAttempts: 6,
    // Enough sockets for a burst of concurrent API requests, each kept alive.
    requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: 64 } }),
  });
}

/** Starts the server and resolves once it prints the port it listens on. */
async function startServer(port: number, path: string | undefined) {
  const args = [SERVER, '127.0.0.1', String(port), ...(path ? [path] : [])];
  // stdin stays a pipe from this process: the server exits when it closes.
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const listening = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening at: \S+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code} before listening`)));
  });
  return { process: child, port: listening };
}
