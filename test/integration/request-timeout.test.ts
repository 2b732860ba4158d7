// A hung API server: a TCP server that accepts connections and never answers. Every request through the generated
// API clients gives up after the configured timeout instead of holding its caller (and the worker behind it) for ever.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import { KubeClient, PooledKubeConfig, RESOURCES } from '../../src/kube/client.js';
import { Seed } from '../../src/gardener/api.js';

let server: Server;
const held: Socket[] = [];
let port = 0;

beforeAll(async () => {
  server = createServer((socket) => held.push(socket)); // accepts, never writes: not even a TLS handshake
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function hungClient(timeoutMs: number): KubeClient {
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'hung', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-checked' }],
    contexts: [{ name: 'hung', cluster: 'hung', user: 'u' }],
    currentContext: 'hung',
  });
  kc.requestTimeoutMs = timeoutMs;
  return new KubeClient(kc);
}

it('a request to a server that never answers fails with a timeout', async () => {
  const client = hungClient(300);
  const err = await client.get(RESOURCES.seeds, Seed, 'any').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(String((err as Error).message ?? err)).toMatch(/timeout|aborted/i);
  expect(held.length).toBeGreaterThan(0); // it did reach the server
  client.kubeConfig.close();
}, 10_000);
