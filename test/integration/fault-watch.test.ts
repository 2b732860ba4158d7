// The watch caches survive faults, against the real garden API (issue 15): every client connection is reset (TCP
// RST, open watches included) four times while 5,000 shoot status changes are written, and the canaryrollouts
// watch cache is rebuilt under a watch so that its resourceVersion answers 410. The caches must resume their
// watches instead of relisting (one LIST per resource, two for the one that got 410), send no storm of requests,
// and hold exactly what a fresh LIST from the garden holds within 30 s of the last change.
//
// The reflectors talk to the garden through the fault proxy; the test writes to the garden directly, so the
// resets hit only the caches. The 410 comes from a rebuild of the CRD's watch cache (a category added to its
// spec: for a second or two the resource answers 429 "storage is (re)initializing", then every older
// resourceVersion gets 410). etcd compaction would not do: kube-apiserver 1.36 serves watches of cached resources
// from its watch cache, which ignores compaction (test/support/garden-faults.ts), and this file runs on the shared
// garden, whose etcd is not ours to compact anyway.
//
// A third fault comes with the load, unasked: an apiserver ends a watch whose client does not take its events fast
// enough (apiserver_terminated_watchers_total, "unresponsive" watchers), which on a busy test machine happens to the
// shoots' watch every few hundred changes. The reflector resumes it too, from where it got to; the bound on watch
// requests allows one such resumption per 100 changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { namespacedKey, parseSeed, trimShoot } from '../../src/gardener/trim.js';
import { loadKubeConfig, RESOURCES, type KubeClient, type PooledKubeConfig, type ResourceType } from '../../src/kube/client.js';
import { Reflector } from '../../src/kube/reflector.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { deleteRollouts, gardenletRollout, smallLandscape } from '../../src/sim/scenario.js';
import { mapLimit } from '../../src/util/concurrency.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../support/eventually.js';
import { CRDS, ensureCanaryRolloutCRD } from '../support/crd.js';
import { type FaultProxy, type RequestLogEntry, startFaultProxy } from '../support/fault-proxy.js';
import { gardenClient, gardenKubeconfig, uniquePrefix } from '../support/garden.js';

/**
 * smallLandscape's 2 regions (aws/eu-1, gcp/us-1) x 5 seeds x 25 shoots: 250 shoots on 10 seeds, 20 changes each.
 * (With 500 shoots x 10, creating and deleting the landscape alone took 100 s on a busy 2-CPU test machine.)
 */
const REGIONS = 2;
const SEEDS_PER_REGION = 5;
const SHOOTS_PER_SEED = 25;
const ROUNDS = 20;
const CONCURRENCY = 32;
/** a reset before the changes numbered 1000, 2000, 3000 and 4000, the watch-cache rebuild before 2500 */
const RESET_AT = [1000, 2000, 3000, 4000];
const REBUILD_AT = 2500;
const CONVERGE_MS = 30_000;

const CRD_NAME = `${RESOURCES.canaryRollouts.plural}.${RESOURCES.canaryRollouts.group}`;
const Crd = z.looseObject({ metadata: z.looseObject({ name: z.string() }), spec: z.looseObject({ names: z.looseObject({ categories: z.array(z.string()).optional() }) }) });
const Raw = z.looseObject({ metadata: z.looseObject({ name: z.string(), namespace: z.string().optional(), resourceVersion: z.string() }) });

const prefix = uniquePrefix('w');
const selector = `${LABEL_LANDSCAPE}=${prefix}`;
/** added to the CRD's categories to rebuild its watch cache, removed again in afterAll */
const category = `fw${prefix}`;
const rolloutNames = [0, 1, 2].map((i) => `${prefix}-fw${i}`);
const dir = mkdtempSync(join(tmpdir(), 'fault-watch-'));
const logLines: string[] = [];
const log = createLogger({ level: 'info', write: (l) => logLines.push(l) });

/** The cached shoot: what the controller keeps (trimShoot) and the resourceVersion, to compare with the garden's. */
const cachedShoot = (raw: unknown) => {
  const s = trimShoot(raw);
  return s && { ...s, resourceVersion: (raw as { metadata: { resourceVersion?: string } }).metadata.resourceVersion };
};
const cachedRollout = (raw: unknown) => CanaryRollout.safeParse(raw).data;
const byName = (o: { metadata: { name: string } }) => o.metadata.name;

interface Watched {
  resource: ResourceType;
  reflector: Reflector<object>;
  transform: (raw: unknown) => object | undefined;
  key: (o: object) => string;
}

let garden: KubeClient;
let proxy: FaultProxy;
let kubeConfig: PooledKubeConfig;
let watched: Watched[] = [];
let categoriesBefore: string[] | undefined;
let crdChanged = false;

/** Requests the proxy saw for one resource (its collection path, all namespaces). */
const requestsOf = (r: ResourceType, pred: (e: RequestLogEntry, q: URLSearchParams) => boolean) =>
  proxy.requests((e) => new URL(e.path, 'http://x').pathname === `/apis/${r.group}/${r.version}/${r.plural}` && pred(e, new URL(e.path, 'http://x').searchParams));
/** a LIST (the first page of one) */
const isList = (e: RequestLogEntry, q: URLSearchParams) => e.method === 'GET' && !e.watch && !q.has('continue');

/**
 * JSON with object keys sorted, without the object's apiVersion and kind: equal for equal content. (Items of a list
 * from gardener-apiserver carry no apiVersion and kind, objects in watch events do, and parseSeed keeps both.)
 */
const canonical = (v: object): string =>
  JSON.stringify({ ...v, apiVersion: undefined, kind: undefined }, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
const rvOfObject = (o: object) => (o as { metadata?: { resourceVersion?: string }; resourceVersion?: string }).metadata?.resourceVersion ?? (o as { resourceVersion?: string }).resourceVersion;

/** What differs between a cache and a fresh LIST from the garden: missing, extra and stale keys. */
async function divergence(w: Watched): Promise<string | undefined> {
  const fresh = await garden.list(w.resource, Raw, { labelSelector: selector });
  const want = new Map<string, object>();
  for (const raw of fresh) {
    const obj = w.transform(raw);
    if (obj) want.set(w.key(obj), obj);
  }
  const have = new Map(w.reflector.list().map((o) => [w.key(o), o]));
  const missing = [...want.keys()].filter((k) => !have.has(k));
  const extra = [...have.keys()].filter((k) => !want.has(k));
  const stale = [...want].filter(([k, o]) => have.has(k) && canonical(have.get(k)!) !== canonical(o));
  if (want.size === 0) return `${w.resource.plural}: the garden has none of them`;
  if (!missing.length && !extra.length && !stale.length) return undefined;
  const staleRVs = stale.slice(0, 3).map(([k, o]) => `${k} cached ${rvOfObject(have.get(k)!)}, listed ${rvOfObject(o)}`);
  return `${w.resource.plural}: ${missing.length} missing (${missing.slice(0, 3).join(' ')}), ${extra.length} extra, ${stale.length} stale (${staleRVs.join('; ')})`;
}

const phases: Record<string, number> = {};
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    phases[name] = Date.now() - t;
  }
};

beforeAll(async () => {
  garden = gardenClient();
  await ensureCanaryRolloutCRD(garden);
  await timed('landscape', () => createLandscape(garden, smallLandscape(prefix, { seedsPerRegion: SEEDS_PER_REGION, shootsPerSeed: SHOOTS_PER_SEED, projects: 4, concurrency: CONCURRENCY })));
  // no controller in the garden watches this prefix: these rollouts are only watched, never acted on
  for (const name of rolloutNames) await garden.create(RESOURCES.canaryRollouts, gardenletRollout(name, prefix, 'v1.150.0', { waves: [{ name: 'all', percent: 100 }] }));
  proxy = await startFaultProxy({ upstreamKubeconfig: gardenKubeconfig(), kubeconfigOut: join(dir, 'proxy.kubeconfig') });
  kubeConfig = loadKubeConfig(proxy.kubeconfig);
}, 120_000);

afterAll(async () => {
  await Promise.all(watched.map((w) => w.reflector.stop()));
  kubeConfig?.close();
  await proxy?.stop();
  // every step runs whatever the one before it did; the first failure is reported at the end
  const failures: unknown[] = [];
  const step = (fn: () => Promise<unknown>) => fn().catch((err: unknown) => void failures.push(err));
  // other tests share the CRD: its categories go back to what they were (a rebuild of its watch cache once more)
  if (crdChanged) await step(() => garden.patch(CRDS, CRD_NAME, { spec: { names: { categories: categoriesBefore ?? null } } }));
  await step(() => deleteRollouts(garden, rolloutNames));
  await step(() => timed('teardown', () => deleteLandscape(garden, prefix, CONCURRENCY)));
  process.stderr.write(`fault-watch phases (ms): ${JSON.stringify(phases)}\n`);
  garden.kubeConfig.close();
  rmSync(dir, { recursive: true, force: true });
  if (failures.length) throw failures[0];
}, 120_000);

describe('watch caches under connection resets and a watch-cache rebuild', () => {
  it('resume their watches, relist only on 410, send no storm and match a fresh LIST within 30 s', async () => {
    const make = <T extends object>(resource: ResourceType, transform: (raw: unknown) => T | undefined, key: (o: T) => string): Watched => ({
      resource,
      reflector: new Reflector<T>({ kubeConfig, resource, transform, key, log, labelSelector: selector }) as unknown as Reflector<object>,
      transform,
      key: key as (o: object) => string,
    });
    const shoots = make(RESOURCES.shoots, cachedShoot, namespacedKey);
    const seeds = make(RESOURCES.seeds, parseSeed, byName);
    const rollouts = make(RESOURCES.canaryRollouts, cachedRollout, byName);
    watched = [shoots, seeds, rollouts];
    for (const w of watched) w.reflector.start();
    await Promise.all(watched.map((w) => w.reflector.waitForSync(30_000)));
    expect(shoots.reflector.size).toBe(REGIONS * SEEDS_PER_REGION * SHOOTS_PER_SEED);
    expect(seeds.reflector.size).toBe(REGIONS * SEEDS_PER_REGION);
    expect(rollouts.reflector.size).toBe(rolloutNames.length);

    const targets = shoots.reflector.list() as { metadata: { name: string; namespace?: string } }[];
    const changes = Array.from({ length: ROUNDS }, (_, round) => targets.map((s) => ({ round, name: s.metadata.name, namespace: s.metadata.namespace! }))).flat();
    expect(changes).toHaveLength(5000);

    /** when the latest fault cut each resource's watch: a reset cuts all of them, the rebuild the rollouts' */
    const cutAt = new Map<ResourceType, number>(watched.map((w) => [w.resource, 0]));
    /** each resource has a watch established after its latest cut (the next fault then cuts open watches, not a backoff) */
    const watchesBack = () =>
      waitFor(
        'every watch to be re-established after the last fault',
        async () => (watched.every((w) => requestsOf(w.resource, (e) => e.watch && e.at > cutAt.get(w.resource)! && e.status === 200 && !e.error).length > 0) ? true : undefined),
        20_000,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${logLines.slice(-10).join('\n')}`, { cause: err });
      });

    // Faults run at fixed points of the stream of changes: the change numbered RESET_AT[k] starts only after reset k
    // (changes before it may still be in flight), and each fault waits for every watch to be back from the last one,
    // so that every reset cuts open watches rather than a backoff.
    const gates = new Map<number, { done: Promise<void>; open: () => void }>();
    for (const at of [...RESET_AT, REBUILD_AT]) {
      let open!: () => void;
      gates.set(at, { done: new Promise<void>((r) => (open = r)), open });
    }
    const base = Math.floor(Date.now() / 1000) * 1000;
    let started = 0;
    let resets = 0;
    let resetConnections = 0;
    let rebuiltAt = 0;
    let rolloutChanges = 0;
    const faults = (async () => {
      for (const at of [...gates.keys()].sort((a, b) => a - b)) {
        await waitFor(`change ${at - 200} to start`, async () => (started >= at - 200 ? true : undefined), 60_000);
        await watchesBack();
        if (at === REBUILD_AT) {
          const crd = await garden.get(CRDS, Crd, CRD_NAME);
          categoriesBefore = crd.spec.names.categories;
          crdChanged = true;
          rebuiltAt = Date.now();
          await garden.patch(CRDS, CRD_NAME, { spec: { names: { categories: [...(categoriesBefore ?? []), category] } } });
          // the 410 and the relist it asks for come before the next fault (a reset would cut a list in flight),
          // which waits for the watch after that relist
          await waitFor('the canaryrollouts cache to relist after 410', async () => (rollouts.reflector.stats.lists >= 2 ? true : undefined), 20_000);
          cutAt.set(RESOURCES.canaryRollouts, requestsOf(RESOURCES.canaryRollouts, isList).at(-1)!.at);
        } else {
          const now = Date.now();
          resetConnections += proxy.resetAll();
          resets++;
          for (const w of watched) cutAt.set(w.resource, now);
        }
        // the rollouts change too, so that their watch has something to resume after
        await mapLimit(rolloutNames, 3, (n) => garden.patch(RESOURCES.canaryRollouts, n, { metadata: { annotations: { 'fault-watch.test/at': String(at) } } }));
        rolloutChanges += rolloutNames.length;
        gates.get(at)!.open();
      }
    })();
    faults.catch(() => undefined); // awaited below
    const written = mapLimit(changes, CONCURRENCY, async (c, i) => {
      await gates.get(i)?.done;
      started = i + 1;
      const ts = new Date(base + c.round * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      await garden.patchStatus(RESOURCES.shoots, c.name, { status: { lastOperation: { lastUpdateTime: ts, description: `fault-watch change ${c.round}` } } }, c.namespace);
    });
    written.catch(() => undefined);
    const changesStarted = Date.now();
    await Promise.all([faults, written]);
    const lastChange = Date.now();
    phases.changes = lastChange - changesStarted;

    // within 30 s of the last change, each cache holds what the garden holds (same keys, same resourceVersions)
    await waitFor(
      'every cache to equal a fresh LIST',
      async () => {
        const diffs = (await Promise.all(watched.map(divergence))).filter(Boolean);
        return diffs.length === 0 ? true : undefined;
      },
      CONVERGE_MS,
    ).catch(async (err: unknown) => {
      const diffs = (await Promise.all(watched.map(divergence))).filter(Boolean);
      throw new Error(`${(err as Error).message}: ${diffs.join('; ')}\n${logLines.slice(-10).join('\n')}`, { cause: err });
    });
    const convergedMs = Date.now() - lastChange;

    const rvOf = (e: RequestLogEntry) => Number(new URL(e.path, 'http://x').searchParams.get('resourceVersion'));
    const figures = watched.map((w) => {
      const s = w.reflector.stats;
      const lists = requestsOf(w.resource, isList).length;
      const watches = requestsOf(w.resource, (e) => e.watch);
      // a watch from the same resourceVersion as the one before it: that one ended without delivering anything
      const stalled = watches.filter((e, i) => i > 0 && rvOf(e) === rvOf(watches[i - 1]!)).length;
      const written = w === shoots ? changes.length : w === rollouts ? rolloutChanges : 0;
      return { w, s, lists, watches, stalled, written };
    });
    process.stderr.write(
      `\nfault-watch: ${changes.length} shoot status changes on ${targets.length} shoots, ${resets} resets (${resetConnections} connections cut), 1 watch-cache rebuild; ` +
        figures
          .map(({ w, s, lists, watches, stalled }) => `${w.resource.plural}: lists=${s.lists} LIST requests=${lists} watches=${watches.length} (${stalled} without progress) watchErrors=${s.watchErrors} gone=${s.gone} probes=${s.probes}`)
          .join('; ') +
        `; caches equal a fresh LIST ${convergedMs} ms after the last change\n`,
    );

    expect(resets).toBe(RESET_AT.length);
    expect(seeds.reflector.stats.watchErrors).toBeGreaterThanOrEqual(resets); // every reset cut an open watch
    // a watch cut after it had worked is retried after the first backoff step, however many resets came before
    const failed = logLines.map((l) => JSON.parse(l) as { msg: string; resource: string; attempt?: number; error?: { message: string } }).filter((l) => l.msg === 'watch failed, resuming it');
    expect(failed.filter((l) => !/Too Many Requests/.test(l.error?.message ?? '')).map((l) => `${l.resource} attempt ${l.attempt}`)).toEqual(
      failed.filter((l) => !/Too Many Requests/.test(l.error?.message ?? '')).map((l) => `${l.resource} attempt 1`),
    );
    for (const { w, s, lists, watches, stalled, written } of figures) {
      // every watch resumes from a resourceVersion the cache had, none starts from scratch
      for (const e of watches) expect(rvOf(e)).toBeGreaterThan(0);
      expect(s.watches).toBeGreaterThan(resets);
      expect(s.idleWatches).toBe(0);
      // no storm: a watch that got nothing is retried once per fault, and a few times while the rebuilt storage
      // answers 429; beyond the faults' three watches each (the cut one, a failed retry, the resumed one), at most one
      // per 100 changes (the server's own cuts of a watch it could not feed)
      expect(stalled).toBeLessThanOrEqual(resets + 4);
      expect(watches.length).toBeLessThanOrEqual(3 * resets + 5 + Math.ceil(written / 100));
      expect(lists).toBeLessThanOrEqual(2);
      if (w === rollouts) {
        expect(s.gone).toBeGreaterThanOrEqual(1);
        expect(s.lists).toBe(2); // exactly one relist: the one the 410 asked for
        expect(lists).toBe(2);
        expect(requestsOf(w.resource, isList).filter((e) => e.at > rebuiltAt)).toHaveLength(1); // after the rebuild, not after a reset
      } else {
        expect(s.gone).toBe(0);
        expect(s.lists).toBe(1); // the resets were survived without a relist
        expect(lists).toBe(1);
      }
    }
    // the shoots' watches delivered the changes: each resumed from where the one before it got to, never from older
    const shootRVs = figures[0]!.watches.map(rvOf);
    expect(shootRVs).toEqual([...shootRVs].sort((a, b) => a - b));
    expect(shootRVs.at(-1)).toBeGreaterThan(shootRVs[0]!);
  }, 240_000);
});
