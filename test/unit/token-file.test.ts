// A kubeconfig whose token is a file that gets rotated (Gardener's generic token kubeconfig): the token is read again
// when it is old and at once after a 401, for API clients, watches and the leader election's own KubeConfig alike.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig, PooledKubeConfig, RESOURCES, statusCode } from '../../src/kube/client.js';
import { TOKEN_FILE_MAX_AGE_MS, TokenFile, tokenFilePaths } from '../../src/kube/token-file.js';
import { Reflector } from '../../src/kube/reflector.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../support/eventually.js';

describe('TokenFile', () => {
  function fake(initial: string) {
    const f = { content: initial, reads: 0, now: 0, fail: false };
    const tf = new TokenFile('/token', {
      now: () => f.now,
      read: () => {
        f.reads++;
        if (f.fail) throw new Error('ENOENT');
        return f.content;
      },
    });
    return { f, tf };
  }

  it('reads once, then again only when the token is TOKEN_FILE_MAX_AGE_MS old (client-go: a minute less 10 s leeway)', () => {
    const { f, tf } = fake('a\n');
    expect(tf.token()).toBe('a'); // trimmed
    f.content = 'b';
    f.now = TOKEN_FILE_MAX_AGE_MS - 1;
    expect(tf.token()).toBe('a');
    expect(f.reads).toBe(1);
    f.now = TOKEN_FILE_MAX_AGE_MS;
    expect(tf.token()).toBe('b');
    expect(tf.reads).toEqual({ first: 1, age: 1, rejected: 0 });
  });

  it('reads again at once after the API server rejected the current token, not after a rejection of an older one', () => {
    const { f, tf } = fake('a');
    expect(tf.token()).toBe('a');
    f.content = 'b';
    tf.rejected('old'); // a request that went out before the last read: no re-read
    expect(tf.token()).toBe('a');
    tf.rejected('a');
    expect(tf.token()).toBe('b');
    expect(tf.token()).toBe('b');
    expect(tf.reads).toEqual({ first: 1, age: 0, rejected: 1 });
  });

  it('keeps the last token while the file cannot be read (and tries again), and fails only when it never could', () => {
    const { f, tf } = fake('a');
    f.fail = true;
    expect(() => tf.token()).toThrow('ENOENT');
    f.fail = false;
    expect(tf.token()).toBe('a');
    f.fail = true;
    tf.rejected('a');
    expect(tf.token()).toBe('a');
    expect(tf.token()).toBe('a');
    expect(f.reads).toBe(4); // every request tries again while it fails
    f.fail = false;
    f.content = 'b';
    expect(tf.token()).toBe('b');
  });

  it('takes an empty file for an error', () => {
    const { f, tf } = fake('a');
    expect(tf.token()).toBe('a');
    f.content = ' \n';
    tf.rejected('a');
    expect(tf.token()).toBe('a');
    expect(() => fake('').tf.token()).toThrow('is empty');
  });
});

describe('tokenFilePaths', () => {
  it("takes client-go's tokenFile and client-node's token-file, relative to the kubeconfig's directory", () => {
    const kubeconfig = [
      'users:',
      '- {name: kubectl, user: {tokenFile: /var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/token}}',
      '- {name: relative, user: {tokenFile: token}}',
      '- {name: client-node, user: {token-file: ../t}}',
      '- {name: static, user: {token: abc}}',
      '- {name: empty, user: null}',
    ].join('\n');
    expect(Object.fromEntries(tokenFilePaths(kubeconfig, '/etc/kc'))).toEqual({
      kubectl: '/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/token',
      relative: '/etc/kc/token',
      'client-node': '/etc/t',
    });
  });
});

/** A kube-apiserver stand-in over plain HTTP that accepts one token at a time. */
interface FakeServer {
  server: Server;
  accept: string;
  seen: { path: string; token: string; status: number }[];
  onList?: () => void;
}

async function fakeServer(accept: string): Promise<FakeServer & { url: string }> {
  const s: FakeServer = { server: createServer(), accept, seen: [] };
  s.server.on('request', (req: IncomingMessage, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const watch = req.url!.includes('watch=true');
    const status = token === s.accept ? 200 : 401;
    s.seen.push({ path: watch ? 'watch' : req.url!.split('?')[0]!, token, status });
    if (status === 401) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
      return;
    }
    if (watch) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } }) + '\n'); // held open until the test ends
      return;
    }
    if (req.url!.startsWith('/apis/')) {
      s.onList?.();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [], metadata: { resourceVersion: '1' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'garden' } }));
  });
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  return Object.assign(s, { url: `http://127.0.0.1:${(s.server.address() as AddressInfo).port}` });
}

/** A kubeconfig as kubectl and Gardener write it: the user has `tokenFile` (here relative to the kubeconfig). */
function tokenFileKubeconfig(server: string, token: string): { kubeconfig: string; tokenPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'canary-token-file-'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, token);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: garden, cluster: {server: "' + server + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: sa, user: {tokenFile: token}}]',
      'contexts: [{name: sa, context: {cluster: garden, user: sa}}]',
      'current-context: sa',
    ].join('\n'),
  );
  return { kubeconfig, tokenPath };
}

describe('a token-file kubeconfig against a server that rotates its token', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('API clients: a 401 makes the next request read the file again, in every KubeConfig made from the same users (leader election)', async () => {
    const s = await fakeServer('a');
    cleanup.push(() => void s.server.closeAllConnections(), () => new Promise<void>((r) => s.server.close(() => r())));
    const { kubeconfig, tokenPath } = tokenFileKubeconfig(s.url, 'a');
    const kc = loadKubeConfig(kubeconfig);
    // the leader election builds its own PooledKubeConfig from the same users (src/controller/leader.ts)
    const leaderKc = new PooledKubeConfig();
    leaderKc.loadFromOptions({ clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    cleanup.push(() => kc.close(), () => leaderKc.close());
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const leases = leaderKc.makeApiClient(k8s.CoreV1Api);

    await core.readNamespace({ name: 'garden' });
    // rotation: a new token in the file, the old one revoked
    writeFileSync(tokenPath, 'b\n');
    s.accept = 'b';
    const failed = await leases.readNamespace({ name: 'garden' }).catch((err: unknown) => statusCode(err));
    expect(failed).toBe(401);
    await leases.readNamespace({ name: 'garden' });
    await core.readNamespace({ name: 'garden' });
    expect(s.seen.map((r) => `${r.token} ${r.status}`)).toEqual(['a 200', 'a 401', 'b 200', 'b 200']);
    // what a watch sends (Reflector builds its requests with applyToFetchOptions)
    const init = await kc.applyToFetchOptions({});
    expect(new Headers(init.headers as Record<string, string>).get('authorization')).toBe('Bearer b');
  });

  it('watches: a watch refused with 401 makes the next one read the file again', async () => {
    const s = await fakeServer('a');
    const { kubeconfig, tokenPath } = tokenFileKubeconfig(s.url, 'a');
    // the token rotates right after the first LIST was answered: the watch goes out with the old one
    s.onList = () => {
      if (s.accept !== 'a') return;
      writeFileSync(tokenPath, 'b');
      s.accept = 'b';
    };
    const kc = loadKubeConfig(kubeconfig);
    const reflector = new Reflector<{ metadata: { name: string } }>({
      kubeConfig: kc,
      resource: RESOURCES.seeds,
      transform: (raw) => raw as { metadata: { name: string } },
      key: (o) => o.metadata.name,
      log: createLogger({ write: () => undefined }),
      backoff: { baseMs: 10, maxMs: 20 },
    });
    cleanup.push(() => void s.server.closeAllConnections(), () => new Promise<void>((r) => s.server.close(() => r())), () => kc.close(), () => reflector.stop());
    reflector.start();
    await waitFor('the watch to deliver', async () => reflector.get('a'), 10_000);
    expect(s.seen.map((r) => `${r.path === 'watch' ? 'watch' : 'list'} ${r.token} ${r.status}`)).toEqual(['list a 200', 'watch a 401', 'watch b 200']);
  });
});
