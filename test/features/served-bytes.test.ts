import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { entityKey } from '../../features/online/entity-key';
import { createFeatureApi } from '../../features/serving/app';
import {
  catalog,
  type FeatureStack,
  featureStack,
  type LocalServices,
  recordOf,
  startServices,
} from './fixtures';

// Responses served over a socket come from reused buffers: concurrent answers of every size
// must still be exactly the bytes of their own request.
let services: LocalServices;
let stack: FeatureStack;
let url: string;
let close: () => void;
beforeAll(async () => {
  services = await startServices();
  stack = await featureStack(services);
  const drive = catalog.entities.get('drive')!;
  const t = stack.clock.nowMs - 60_000;
  await stack.writer.write(
    ['drive_motion', 'drive_imu', 'drive_hard_braking'].flatMap((view) =>
      Array.from({ length: 120 }, (_, i) => ({
        key: entityKey(drive, [`d${i}`]),
        view,
        record: recordOf(view, t, i),
      })),
    ),
  );
  const app = createFeatureApi({
    serving: stack.serving,
    reader: stack.reader,
    resolveTeam: () => 'planning',
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(async () => {
  close();
  stack.close();
  await services.close();
});

test('concurrent answers over a socket, 1 to 120 entities each, are each the bytes of their own request', async () => {
  const bodies = Array.from({ length: 60 }, (_, n) => ({
    feature_service: 'drive_summary',
    entities: { drive_id: Array.from({ length: 1 + ((n * 37) % 120) }, (_, i) => `d${(i * 7 + n) % 130}`) },
  }));
  const expected = await Promise.all(
    bodies.map((body) => stack.serving.getOnlineFeaturesJson('planning', body)),
  );
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const response = await fetch(`${url}/get-online-features`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(response.status).toBe(200);
        return Buffer.from(await response.arrayBuffer());
      }),
    );
    answers.forEach((answer, i) => {
      expect(answer.equals(expected[i]!), `request ${i}, round ${round}`).toBe(true);
    });
  }
});

test('answers a slow reader has not taken yet keep their bytes while other requests are answered', async () => {
  // Pipelined requests on a socket that is not read (43 MB of answers, more than loopback's
  // socket buffers take): once the kernel is full an answer waits in Node holding its buffer,
  // and other requests are answered meanwhile. Releasing a buffer before 'finish' fails this.
  const big = (n: number) => ({
    feature_service: 'drive_summary',
    entities: { drive_id: Array.from({ length: 100 }, (_, i) => `d${(i * 11 + n) % 120}`) },
  });
  const pipelined = Array.from({ length: 500 }, (_, n) => big(n));
  const others = Array.from({ length: 40 }, (_, n) => big(n + 40));
  const expected = await Promise.all(
    [...pipelined, ...others].map((body) => stack.serving.getOnlineFeaturesJson('planning', body)),
  );
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.pause();
  const ended = new Promise((resolve) => socket.once('end', resolve));
  for (const [i, body] of pipelined.entries()) {
    const text = JSON.stringify(body);
    socket.write(
      `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${i === pipelined.length - 1 ? 'Connection: close\r\n' : ''}\r\n${text}`,
    );
  }
  // Until the server stops answering that socket: the kernel's buffers are full and an answer waits in Node.
  for (let hits = -1; hits !== stack.reader.stats.cacheHits; ) {
    hits = stack.reader.stats.cacheHits;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const answers = await Promise.all(
    others.map(async (body) => {
      const response = await fetch(`${url}/get-online-features`, {
        method: 'POST',
        body: JSON.stringify(body),
      });
      return Buffer.from(await response.arrayBuffer());
    }),
  );
  socket.resume();
  await ended;
  const raw = Buffer.concat(chunks);
  const bodies: Buffer[] = [];
  for (let at = 0; at < raw.length; ) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    const length = Number(/content-length: (\d+)/i.exec(raw.toString('latin1', at, headEnd))![1]);
    bodies.push(raw.subarray(headEnd + 4, headEnd + 4 + length));
    at = headEnd + 4 + length;
  }
  expect(bodies).toHaveLength(pipelined.length);
  [...bodies, ...answers].forEach((answer, i) => {
    expect(answer.equals(expected[i]!), `request ${i}`).toBe(true);
  });
});
