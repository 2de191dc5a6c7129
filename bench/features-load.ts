/**
 * The load generator of bench:features, in a process of its own (forked with IPC by
 * bench/features.ts) so that it never shares an event loop with what it measures. Every
 * target, HTTP or raw Redis, is driven by the same two loops:
 *   - open loop: request i is due at start + i/rate whatever happened before (no coordinated
 *     omission), and its latency counts from that due time, so a late send, a queue in the
 *     server or a stall in this process all show; the send lag is reported on its own;
 *   - closed loop: `concurrency` requests always in flight, for the highest rate sustained.
 * HTTP goes through undici (Node's own HTTP client engine) over kept-alive connections, one
 * request per connection at a time, new connections as an open loop needs them; raw Redis
 * through ioredis, one MGET per request on one pipelined connection.
 *
 * Each run also reports what in this process could put a tail on every system alike: how late
 * it sent, the latency from the actual send, its own GC pauses, and how long its main thread
 * waited for a core (the kernel's run-queue wait, /proc/<pid>/task/<tid>/schedstat).
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { type GcPauses, gcMark, gcPausesSince } from './gc-pauses';

export type LoadTarget =
  | { readonly kind: 'http'; readonly url: string; readonly path: string; readonly bodies: readonly string[] }
  | { readonly kind: 'redis'; readonly port: number; readonly keySets: readonly (readonly string[])[] };

export type LoadCommand =
  | { readonly op: 'target'; readonly id: string; readonly target: LoadTarget }
  | { readonly op: 'open'; readonly id: string; readonly rate: number; readonly seconds: number }
  | { readonly op: 'closed'; readonly id: string; readonly concurrency: number; readonly seconds: number }
  | { readonly op: 'drop'; readonly id: string };

export interface LoadReport {
  readonly requests: number;
  readonly errors: number;
  /** Completed requests per second over the run. */
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Open loop: how late this process sent, at the 99th percentile (already inside every latency). */
  readonly sendLagP99Ms?: number;
  readonly sendLagMaxMs?: number;
  /** Open loop: latency from the actual send rather than the due time (the send lag taken out). */
  readonly fromSendP99Ms?: number;
  /** GC pauses of this process during the run (every one stops its event loop). */
  readonly clientGc: GcPauses;
  /** Time this process's main thread waited for a core during the run, ms (CPU contention). */
  readonly clientRunQueueWaitMs: number;
  /** CPU this process (the client: undici or ioredis, and the pacing) used per request, µs. */
  readonly clientCpuUsPerRequest: number;
  /** Response bytes of the last request (HTTP body, or the sum of the MGET values). */
  readonly responseBytes: number;
}

type Send = (i: number) => Promise<number>;

/** Nanoseconds this process's main thread has waited on a run queue (Linux schedstat, field 2). */
function runQueueWaitNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return 0; // not Linux, or schedstats off: reported as 0
  }
}

interface Client {
  send: Send;
  close(): Promise<void>;
}

function httpClient(target: Extract<LoadTarget, { kind: 'http' }>): Client {
  const pool = new Pool(target.url, { connections: null, pipelining: 1, keepAliveTimeout: 60_000 });
  const { bodies, path } = target;
  return {
    send: async (i) => {
      const response = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i % bodies.length]!,
      });
      // 'data' events, not async iteration: a quarter less client CPU on a 263 KB body.
      const bytes = await new Promise<number>((resolve, reject) => {
        let read = 0;
        response.body.on('data', (chunk: Buffer) => {
          read += chunk.length;
        });
        response.body.once('end', () => resolve(read));
        response.body.once('error', reject);
      });
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      return bytes;
    },
    close: () => pool.close(),
  };
}

function redisClient(target: Extract<LoadTarget, { kind: 'redis' }>): Client {
  const redis = new Redis({ port: target.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const { keySets } = target;
  return {
    send: async (i) => {
      const values = await redis.mgetBuffer(...keySets[i % keySets.length]!);
      let bytes = 0;
      for (const value of values) {
        if (!value) throw new Error('a key of the benchmark data is missing');
        bytes += value.length;
      }
      return bytes;
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

/** Nearest-rank quantile of sorted latencies, in ms rounded to µs. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return Number(sorted[rank - 1]!.toFixed(3));
}

interface RunMarks {
  readonly gc: number;
  readonly runQueueNs: number;
  readonly cpu: NodeJS.CpuUsage;
}
const marks = (): RunMarks => ({ gc: gcMark(), runQueueNs: runQueueWaitNs(), cpu: process.cpuUsage() });

function report(
  latencies: Float64Array,
  errors: number,
  elapsedMs: number,
  bytes: number,
  since: RunMarks,
  lag?: Float64Array,
) {
  const cpu = process.cpuUsage(since.cpu);
  const sorted = latencies.slice().sort();
  const sortedLag = lag?.slice().sort();
  return {
    requests: latencies.length,
    errors,
    achievedRps: Math.round((latencies.length - errors) / (elapsedMs / 1000)),
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    p99Ms: quantile(sorted, 0.99),
    p999Ms: quantile(sorted, 0.999),
    maxMs: quantile(sorted, 1),
    ...(lag && sortedLag
      ? {
          sendLagP99Ms: quantile(sortedLag, 0.99),
          sendLagMaxMs: quantile(sortedLag, 1),
          fromSendP99Ms: quantile(latencies.map((latency, i) => latency - lag[i]!).sort(), 0.99),
        }
      : {}),
    clientGc: gcPausesSince(since.gc),
    clientRunQueueWaitMs: Number(((runQueueWaitNs() - since.runQueueNs) / 1e6).toFixed(3)),
    clientCpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, latencies.length)),
    responseBytes: bytes,
  } satisfies LoadReport;
}

/** A timer fires on libuv's millisecond clock, up to ~2 ms late: it only sleeps until this long before a due time. */
const TIMER_EARLY_MS = 2.5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Open loop on a fixed schedule. A timer sleeps until `TIMER_EARLY_MS` before the next due
 * time; from there the wait is precise and costs the other processes no CPU while it can: with
 * no request in flight (no reply to miss) the thread sleeps in `Atomics.wait` (a futex with a
 * sub-millisecond timeout) and then spins the last 50 µs; with requests in flight it polls with
 * setImmediate, which lets their replies through between checks. The same for every target.
 */
function openLoop(send: Send, rate: number, seconds: number): Promise<LoadReport> {
  const total = Math.max(1, Math.round(rate * seconds));
  const period = 1000 / rate;
  const latencies = new Float64Array(total);
  const lag = new Float64Array(total);
  let errors = 0;
  let settled = 0;
  let next = 0;
  let bytes = 0;
  const since = marks();
  const start = performance.now() + 10;
  return new Promise((resolve) => {
    const settle = (i: number, due: number, failed: boolean) => {
      latencies[i] = performance.now() - due;
      if (failed) errors++;
      if (++settled === total)
        resolve(report(latencies, errors, performance.now() - start, bytes, since, lag));
    };
    const tick = () => {
      let now = performance.now();
      const due = start + next * period;
      if (next < total && settled === next && due - now <= TIMER_EARLY_MS) {
        // Nothing in flight: sleep, then spin the last 50 µs, until the due time.
        if (due - now > 0.05) Atomics.wait(sleeper, 0, 0, due - now - 0.05);
        now = performance.now();
        while (now < due && due - now <= 0.05) now = performance.now();
      }
      while (next < total && start + next * period <= now) {
        const i = next++;
        const due = start + i * period;
        lag[i] = now - due;
        send(i).then(
          (size) => {
            bytes = size;
            settle(i, due, false);
          },
          () => settle(i, due, true),
        );
      }
      if (next >= total) return;
      const wait = start + next * period - performance.now();
      if (wait > TIMER_EARLY_MS) setTimeout(tick, wait - TIMER_EARLY_MS);
      else setImmediate(tick);
    };
    tick();
  });
}

async function closedLoop(send: Send, concurrency: number, seconds: number): Promise<LoadReport> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let issued = 0;
  const since = marks();
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const sent = performance.now();
      try {
        bytes = await send(issued++);
      } catch {
        errors++;
      }
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return report(Float64Array.from(latencies), errors, performance.now() - start, bytes, since);
}

const clients = new Map<string, Client>();

async function handle(command: LoadCommand): Promise<unknown> {
  switch (command.op) {
    case 'target': {
      const target = command.target;
      clients.set(command.id, target.kind === 'http' ? httpClient(target) : redisClient(target));
      return {};
    }
    case 'open':
      return openLoop(clients.get(command.id)!.send, command.rate, command.seconds);
    case 'closed':
      return closedLoop(clients.get(command.id)!.send, command.concurrency, command.seconds);
    case 'drop':
      await clients.get(command.id)?.close();
      clients.delete(command.id);
      return {};
  }
}

process.on('message', (message: { seq: number; command: LoadCommand }) => {
  handle(message.command).then(
    (result) => process.send!({ seq: message.seq, result }),
    (error: unknown) => process.send!({ seq: message.seq, error: String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
