/**
 * The HTTP floor of bench:features: a node:http server that reads each request body and
 * answers with fixed bytes (Drivetrain's own response for the case), doing no other work.
 * What it costs is what any Node HTTP server and the load generator's client cost on this
 * machine: `tsx bench/features-noop-server.ts <response.json>`. Prints its URL when it listens.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = readFileSync(process.argv[2]!);
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
const server = http.createServer((request, response) => {
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
