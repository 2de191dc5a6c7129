/**
 * The HTTP floor of bench:features: a node:http server that reads each request body and
 * answers with fixed bytes (Drivetrain's own response for the case), doing no other work.
 * What it costs is what any Node HTTP server and the load generator's client cost on this
 * machine: `tsx bench/features-noop-server.ts <response.json>`. Prints its URL when it listens.
 * `GET /bench-gc?since=<n>` answers its GC pauses after the n-th (bench/gc-pauses.ts).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BENCH_GC_PATH, gcPausesJson } from './gc-pauses';

const body = readFileSync(process.argv[2]!);
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
const server = http.createServer((request, response) => {
  if (request.url!.startsWith(BENCH_GC_PATH)) {
    response.end(gcPausesJson(request.url!));
    return;
  }
  request.on('data', () => {});
  request.on('end', () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
