// The fault-injection harness does what it says, against a real garden:
// - test/support/fault-proxy.ts between a client-node KubeConfig and the shared garden's kube-apiserver: requests
//   pass, latency delays them, a 429 rule answers matching writes only, resetAll() kills an open watch, and the
//   blackhole hangs requests and holds a watch's events;
// - test/support/garden-faults.ts on a garden of this file's own (it freezes processes and compacts etcd):
//   a frozen gardenenv hangs Gardener's API while kube-apiserver's own still answers, and after etcd compaction a
//   watch from an old resourceVersion gets 410 where the apiserver has no watch cache in front of etcd (events),
//   while a cached resource still replays from its cache.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as z from 'zod';
import { KubeClient, loadKubeConfig, RESOURCES, statusCode } from '../../src/kube/client.js';
import { startGarden } from '../garden/garden.mjs';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { gardenClient, gardenKubeconfig, uniquePrefix } from '../support/garden.js';
import { compactEtcd, etcdClientUrl, etcdRevision, freeze, gardenProcesses, thaw } from '../support/garden-faults.js';
import { waitFor } from '../support/eventually.js';

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const AnyObject = z.object({ metadata: z.object({ name: z.string() }) }).passthrough();

const dir = mkdtempSync(join(tmpdir(), 'fault-proxy-test-'));

/** Waits for a condition (something the harness records asynchronously) to hold. */
const until = (what: string, cond: () => boolean) => waitFor(what, () => cond() || undefined, 10_000, { pollMs: 20 });

/** name, code and message of an error (errors from node internals come from another realm than jest's Error) */
function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null || typeof (err as Error).message !== 'string') return `not an error: ${String(err)}`;
  const e = err as Error & { code?: unknown };
  return `${e.name} ${String(e.code ?? '')} ${e.message}`;
}

interface OpenWatch {
  events: { type: string; name?: string; code?: number }[];
  /** the done callback was called */
  ended: boolean;
  /** settles with the done callback's argument */
  done: Promise<unknown>;
  controller: AbortController;
}

/** Opens a k8s.Watch and resolves once the server answered (the watch is established). */
async function openWatch(kc: k8s.KubeConfig, path: string, query: Record<string, string> = {}): Promise<OpenWatch> {
  let settle!: (err: unknown) => void;
  const w: Omit<OpenWatch, 'controller'> = { events: [], ended: false, done: new Promise<unknown>((resolve) => (settle = resolve)) };
  const controller = await new k8s.Watch(kc).watch(
    path,
    query,
    (type: string, obj: { metadata?: { name?: string }; code?: number }) => w.events.push({ type, name: obj?.metadata?.name, code: obj?.code }),
    (err: unknown) => {
      w.ended = true;
      settle(err ?? 'closed without error');
    },
  );
  return Object.assign(w, { controller });
}

describe('fault proxy in front of the shared garden', () => {
  const ns = `fp-${uniquePrefix()}`;
  let upstream: KubeClient;
  let proxy: FaultProxy;
  let client: KubeClient;

  beforeAll(async () => {
    upstream = gardenClient();
    await upstream.core.createNamespace({ body: { metadata: { name: ns } } });
    proxy = await startFaultProxy({ upstreamKubeconfig: gardenKubeconfig(), kubeconfigOut: join(dir, 'proxy.kubeconfig') });
    client = new KubeClient(loadKubeConfig(proxy.kubeconfig));
  });

  afterAll(async () => {
    client?.kubeConfig.close();
    await proxy?.stop();
    await upstream?.core.deleteNamespace({ name: ns }).catch(() => undefined);
    upstream?.kubeConfig.close();
  });

  it('forwards requests with its own credentials and logs them', async () => {
    const since = Date.now() - 1;
    const list = await client.core.listNamespace();
    expect(list.items.map((n) => n.metadata?.name)).toContain(ns);
    const [entry] = proxy.requests({ method: 'GET', path: /^\/api\/v1\/namespaces(\?|$)/ });
    expect(entry).toMatchObject({ status: 200, injected: false, blackholed: false, watch: false });
    expect(entry!.at).toBeGreaterThanOrEqual(since);
    expect(proxy.mutating(since)).toEqual([]);
  });

  it('latency(300) delays each request by at least 300 ms', async () => {
    proxy.latency(300);
    try {
      await client.core.readNamespace({ name: ns });
    } finally {
      proxy.latency(0);
    }
    const entry = proxy.requests({ path: new RegExp(`^/api/v1/namespaces/${ns}$`) }).at(-1)!;
    expect(entry.status).toBe(200);
    expect(entry.ms).toBeGreaterThanOrEqual(300);
  });

  it('a 429 rule on PATCH of one ConfigMap fails that patch (once) while GETs pass', async () => {
    await upstream.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm1' }, data: { v: '0' } } });
    const rule = proxy.failRequests({ methods: ['PATCH'], path: new RegExp(`/namespaces/${ns}/configmaps/cm1(\\?|$)`), status: 429, retryAfterSeconds: 7, times: 1 });
    const since = Date.now() - 1;
    const err = await client.core.patchNamespacedConfigMap({ namespace: ns, name: 'cm1', body: { data: { v: '1' } } }, MERGE_PATCH).catch((e: unknown) => e);
    expect(statusCode(err)).toBe(429);
    const apiErr = err as k8s.ApiException<unknown>;
    expect(JSON.parse(String(apiErr.body))).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 7 } });
    expect(apiErr.headers['retry-after']).toBe('7');
    // a GET of the same object passes, and the server never saw the patch
    expect((await client.core.readNamespacedConfigMap({ namespace: ns, name: 'cm1' })).data).toEqual({ v: '0' });
    expect((await upstream.core.readNamespacedConfigMap({ namespace: ns, name: 'cm1' })).data).toEqual({ v: '0' });
    expect(rule.hits).toBe(1);
    const [patch, ...rest] = proxy.mutating(since);
    expect(rest).toEqual([]);
    expect(patch).toMatchObject({ method: 'PATCH', status: 429, injected: true });
    expect(proxy.requests({ method: 'GET', path: /configmaps\/cm1/ }).at(-1)).toMatchObject({ status: 200, injected: false });
    // times: 1 is used up: the next patch goes through
    await client.core.patchNamespacedConfigMap({ namespace: ns, name: 'cm1', body: { data: { v: '2' } } }, MERGE_PATCH);
    expect((await upstream.core.readNamespacedConfigMap({ namespace: ns, name: 'cm1' })).data).toEqual({ v: '2' });
    expect(rule.hits).toBe(1);
    expect(proxy.mutating(since).at(-1)).toMatchObject({ method: 'PATCH', status: 200, injected: false });
    rule.remove();
  });

  it('resetAll() resets an open watch: its done callback gets an error', async () => {
    // a watch with nothing to report: established all the same (the proxy flushes the headers at once)
    const w = await openWatch(client.kubeConfig, `/api/v1/namespaces/${ns}/configmaps`, { labelSelector: 'fault-proxy-test=none' });
    const watchEntry = proxy.requests({ watch: true }).at(-1)!;
    expect(watchEntry).toMatchObject({ status: 200, path: expect.stringContaining(`/namespaces/${ns}/configmaps`) });
    expect(proxy.resetAll()).toBeGreaterThanOrEqual(1);
    const err = await w.done;
    expect(describeError(err)).toMatch(/ECONNRESET/);
  });

  it('blackhole(true) hangs new requests and holds an open watch; turning it off ends what it held', async () => {
    const w = await openWatch(client.kubeConfig, `/api/v1/namespaces/${ns}/configmaps`);
    const watchEntry = proxy.requests({ watch: true }).at(-1)!;
    // the watch flows: a change made upstream arrives through the proxy
    await upstream.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cm2' }, data: { v: '0' } } });
    await until('ADDED cm2 through the proxy', () => w.events.some((e) => e.type === 'ADDED' && e.name === 'cm2'));

    proxy.blackhole(true);
    try {
      // a new request is accepted and never answered: the client's own 2 s timeout ends it
      const hung = loadKubeConfig(proxy.kubeconfig);
      hung.requestTimeoutMs = 2000;
      const err = await new KubeClient(hung).core.readNamespace({ name: ns }).catch((e: unknown) => e);
      hung.close();
      expect(describeError(err)).toMatch(/abort|timeout/i);
      const held = proxy.requests({ method: 'GET', path: new RegExp(`^/api/v1/namespaces/${ns}$`) }).at(-1)!;
      expect(held).toMatchObject({ blackholed: true });
      expect(held.status).toBeUndefined();

      // a change made directly upstream reaches the proxy, which keeps it from the watch
      const before = w.events.length;
      await upstream.core.patchNamespacedConfigMap({ namespace: ns, name: 'cm2', body: { data: { v: '1' } } }, MERGE_PATCH);
      await until('the proxy to hold the MODIFIED event', () => watchEntry.heldBytes > 0);
      expect(w.events.length).toBe(before);
    } finally {
      // the watch had an event held: it is destroyed, not resumed
      expect(proxy.blackhole(false)).toBeGreaterThanOrEqual(1);
    }
    expect(describeError(await w.done)).toMatch(/Premature close|ECONNRESET/);
    expect(w.events.some((e) => e.type === 'MODIFIED')).toBe(false);
    expect(watchEntry.error).toMatch(/blackhole/);
    // and the proxy works again
    expect((await client.core.readNamespace({ name: ns })).metadata?.name).toBe(ns);
  });
});

describe('garden process faults, in a garden of this test', () => {
  let garden: Awaited<ReturnType<typeof startGarden>> | undefined;
  let procs: ReturnType<typeof gardenProcesses>;
  let client: KubeClient;

  beforeAll(async () => {
    garden = await startGarden({ controllers: 'none', log: () => {} });
    procs = gardenProcesses(garden);
    client = new KubeClient(loadKubeConfig(garden.kubeconfig));
  }, 120_000);

  afterAll(async () => {
    if (garden) for (const pid of garden.pids) process.kill(pid, 'SIGCONT'); // never leave a stopped process behind
    client?.kubeConfig.close();
    await garden?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('finds gardenenv, etcd and kube-apiserver', () => {
    expect(new Set([procs.gardenenv, procs.etcd, procs.kubeApiserver]).size).toBe(3);
    expect(procs.gardenenv).toBe(garden!.pids[0]);
    expect(etcdClientUrl(procs.etcd)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a frozen gardenenv hangs Gardener API requests while kube-apiserver still answers; thawed, they answer again', async () => {
    const impatient = loadKubeConfig(garden!.kubeconfig);
    impatient.requestTimeoutMs = 2000;
    const c = new KubeClient(impatient);
    expect(await c.list(RESOURCES.projects, AnyObject)).toEqual([]); // answers before
    await freeze(procs.gardenenv);
    try {
      const err = await c.list(RESOURCES.projects, AnyObject).catch((e: unknown) => e);
      expect(describeError(err)).toMatch(/abort|timeout/i);
      expect((await c.core.listNamespace()).items.length).toBeGreaterThan(0);
    } finally {
      await thaw(procs.gardenenv);
    }
    impatient.requestTimeoutMs = 20_000;
    expect(await c.list(RESOURCES.projects, AnyObject)).toEqual([]);
    impatient.close();
  });

  it('after compactEtcd, a watch of events from an old resourceVersion gets 410; cached resources still replay', async () => {
    const ns = `fc-${uniquePrefix()}`;
    await client.core.createNamespace({ body: { metadata: { name: ns } } });
    const event = await client.core.createNamespacedEvent({
      namespace: ns,
      body: { metadata: { name: 'e1' }, involvedObject: { kind: 'Namespace', name: ns, namespace: ns }, reason: 'Test', message: 'one' },
    });
    const cm = await client.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c1' }, data: { v: '0' } } });
    await client.core.patchNamespacedEvent({ namespace: ns, name: 'e1', body: { message: 'two' } }, MERGE_PATCH);
    await client.core.patchNamespacedConfigMap({ namespace: ns, name: 'c1', body: { data: { v: '1' } } }, MERGE_PATCH);
    const eventRv = event.metadata!.resourceVersion!;
    const cmRv = cm.metadata!.resourceVersion!;
    const kc = client.kubeConfig;
    const firstOf = async (path: string, rv: string) => {
      const w = await openWatch(kc, path, { resourceVersion: rv, timeoutSeconds: '10' });
      await until(`an event on ${path}`, () => w.events.length > 0 || w.ended);
      w.controller.abort();
      return w.events[0] ?? { type: 'none', done: await w.done };
    };

    // before compaction, both resourceVersions are watchable: the change after each is replayed
    expect(await firstOf(`/api/v1/namespaces/${ns}/events`, eventRv)).toMatchObject({ type: 'MODIFIED', name: 'e1' });
    const url = etcdClientUrl(procs.etcd);
    const before = await etcdRevision(url);
    const compacted = await compactEtcd(url);
    expect(compacted).toBeGreaterThan(before);

    // events have no watch cache: the watch goes to etcd, which no longer has that history
    expect(await firstOf(`/api/v1/namespaces/${ns}/events`, eventRv)).toMatchObject({ type: 'ERROR', code: 410 });
    // configmaps are served from kube-apiserver's watch cache, which ignores the compaction
    expect(await firstOf(`/api/v1/namespaces/${ns}/configmaps`, cmRv)).toMatchObject({ type: 'MODIFIED', name: 'c1' });
    // a cached resource gets 410 only from before its cache's window (gardener-apiserver's starts at its start)
    expect(await firstOf('/apis/core.gardener.cloud/v1beta1/projects', '1')).toMatchObject({ type: 'ERROR', code: 410 });
  });
});
