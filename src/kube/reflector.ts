// A supervised list+watch cache, with the semantics of client-go's reflector (k8s.io/client-go/tools/cache/reflector.go)
// where they matter for safety, and two things it adds:
// - it keeps only what `transform` returns (shoots are cached trimmed to the fields the engine reads);
// - it says how fresh it is. `confirmedAt` is the latest moment the cache is known to hold everything the server held
//   then: the start of a completed LIST, or the start of a quorum read that succeeded while the watch stayed open
//   across it (a FreshnessProber sends those, one per API group, freshness-prober.ts; a cache without one is
//   confirmed by its LISTs only). The engine holds progress when that moment is too old
//   (InputsStale), because a watch that has gone quiet looks exactly like a landscape where nothing changes.
// Lifecycle: LIST once, then WATCH from the list's resourceVersion, and after any watch end or error WATCH again from
// the last resourceVersion seen (events and bookmarks): relisting happens only when the server says 410 Gone. Each
// watch asks the server to end it after a random 1-2x watchTimeoutSeconds (as client-go does, so watches of many
// clients do not end together) and is cut by us if nothing, not even a bookmark, arrived for that long plus a grace:
// a silently dead connection is noticed within that bound, not at the next relist. Failures back off exponentially
// with jitter; a watch that ends at once without delivering anything counts as a failure, so nothing loops hot.
import * as k8s from '@kubernetes/client-node';
import * as z from 'zod';
import { Backoff } from '../util/backoff.js';
import type { Logger } from '../util/log.js';
import { listPages, type PooledKubeConfig, type ResourceType } from './client.js';
import { openWatch, watchStatusCode, type WatchConnection } from './watch-connection.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ReflectorOptions<T> {
  kubeConfig: PooledKubeConfig;
  resource: ResourceType;
  /** Parses (and trims) a raw object; undefined drops it. */
  transform: (raw: unknown) => T | undefined;
  key: (obj: T) => string;
  labelSelector?: string;
  namespace?: string;
  log: Logger;
  /** Called for every change the cache takes in, with the object it replaces (undefined for an addition). */
  onEvent?: (type: WatchEventType, obj: T, old: T | undefined) => void;
  pageSize?: number;
  /** Server-side watch timeout; each watch draws a random value in [w, 2w) (default 60 s). */
  watchTimeoutSeconds?: number;
  /** Backoff of failed lists and watches. */
  backoff?: { baseMs?: number; maxMs?: number };
  random?: () => number;
}

/** How a watch ended: the server closed it or we cut it (resume), 410 (relist), or it failed (back off, resume). */
type WatchOutcome = { kind: 'ended'; delivered: number; lastedMs: number } | { kind: 'gone' } | { kind: 'idle' };

/** What the reflector reads of a watch event; the object itself goes to `transform`. */
const WatchEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ERROR'), raw: z.object({ code: z.number().optional() }) }),
  z.object({ type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']), raw: z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).optional() }) }),
]);

/** A watch that ends sooner than this without delivering anything is treated as a failure (no hot loop). */
const SHORT_WATCH_MS = 1000;
/** Cut a watch that has been silent this much longer than the server's own timeout for it. */
const IDLE_GRACE_MS = 10_000;

export interface ReflectorStats {
  /** Completed LISTs: the first one, then one per 410 Gone. */
  lists: number;
  listErrors: number;
  /** Watches opened. */
  watches: number;
  watchErrors: number;
  /** Watches cut because nothing arrived within their idle bound. */
  idleWatches: number;
  /** 410 Gone from a watch: the resourceVersion left the server's window, a relist follows. */
  gone: number;
  probes: number;
  probeErrors: number;
}

/** What the manager reads of any cache for health, freshness and metrics, whatever it holds. */
export interface CacheHealth {
  readonly resource: string;
  readonly hasSynced: boolean;
  readonly confirmedAt: number | undefined;
  readonly size: number;
  readonly stats: ReflectorStats;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export class Reflector<T> implements CacheHealth {
  private readonly store = new Map<string, T>();
  private resourceVersion = '';
  private synced = false;
  private readonly stopper = new AbortController();
  /** Ends the watch in flight (or its connection attempt) at once. */
  private cancelWatch: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly api: k8s.CustomObjectsApi;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  /** Counts the watches that have been open (established) so far; a probe credits freshness only if it did not change. */
  private watchEpoch = 0;
  private watchOpen = false;
  /** The watch that ended last had been open for SHORT_WATCH_MS or delivered something: it was not a failure in a row. */
  private watchWorked = false;
  private confirmed: number | undefined;
  private changes = 0;
  readonly stats: ReflectorStats = { lists: 0, listErrors: 0, watches: 0, watchErrors: 0, idleWatches: 0, gone: 0, probes: 0, probeErrors: 0 };

  constructor(private readonly o: ReflectorOptions<T>) {
    this.api = o.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.random = o.random ?? Math.random;
    this.backoff = new Backoff({ ...o.backoff, random: this.random });
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Counts the changes the cache has taken in (watch events and relists): equal revisions, equal contents. */
  get revision(): number {
    return this.changes;
  }

  /** Epoch milliseconds of the latest moment the cache is known to have matched the server; undefined before the first list. */
  get confirmedAt(): number | undefined {
    return this.confirmed;
  }

  get resource(): string {
    return this.o.resource.plural;
  }

  /** What this cache lists and watches: its resource type, and its namespace when it watches one. */
  get source(): { resource: ResourceType; namespace?: string | undefined } {
    return { resource: this.o.resource, namespace: this.o.namespace };
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  get size(): number {
    return this.store.size;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.cancelWatch?.();
    await this.loop;
  }

  /** Resolves once the first list has completed. */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > end) throw new Error(`cache of ${this.o.resource.plural} did not sync within ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private path(): string {
    const { group, version, plural } = this.o.resource;
    return this.o.namespace ? `/apis/${group}/${version}/namespaces/${this.o.namespace}/${plural}` : `/apis/${group}/${version}/${plural}`;
  }

  private async relist(): Promise<void> {
    const started = Date.now();
    const fresh = new Map<string, T>();
    let rv = '';
    const { labelSelector, namespace, pageSize: limit } = this.o;
    for await (const page of listPages(this.api, this.o.resource, { labelSelector, namespace, limit })) {
      for (const raw of page.items) {
        const obj = this.o.transform(raw);
        if (obj) fresh.set(this.o.key(obj), obj);
      }
      rv = page.metadata?.resourceVersion ?? rv;
    }
    // tell listeners what changed while we were not watching
    for (const [k, old] of this.store) if (!fresh.has(k)) this.o.onEvent?.('DELETED', old, old);
    for (const [k, obj] of fresh) this.o.onEvent?.(this.store.has(k) ? 'MODIFIED' : 'ADDED', obj, this.store.get(k));
    this.store.clear();
    for (const [k, v] of fresh) this.store.set(k, v);
    this.changes++;
    this.resourceVersion = rv;
    this.synced = true;
    this.confirmed = started;
    this.stats.lists++;
  }

  /**
   * The watch a probe may vouch for: a token while a watch is open (undefined otherwise). A quorum read that succeeds
   * while the watch stays open from before it was sent to after it returned shows the watch was connected to a
   * working server throughout, so the cache is confirmed as of the send (credit).
   */
  probeToken(): number | undefined {
    return this.watchOpen && !this.stopper.signal.aborted ? this.watchEpoch : undefined;
  }

  /** Takes a probe's outcome: on success, the cache is confirmed as of `sentAt` if the watch of `token` is still open. */
  credit(token: number, sentAt: number, ok: boolean): void {
    this.stats.probes++;
    if (!ok) {
      this.stats.probeErrors++;
      return;
    }
    if (this.watchOpen && this.watchEpoch === token) this.confirmed = Math.max(this.confirmed ?? 0, sentAt);
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const outcome = await this.watchOnce();
        if (outcome.kind === 'gone') {
          this.stats.gone++;
          this.o.log.info('watch resourceVersion expired, relisting', { resource: this.o.resource.plural });
          needList = true;
          continue;
        }
        if (outcome.kind === 'idle') {
          this.stats.idleWatches++;
          this.o.log.info('watch silent past its timeout, resuming it', { resource: this.o.resource.plural, resourceVersion: this.resourceVersion });
          continue; // resume at once: the silence already was the wait
        }
        if (outcome.delivered === 0 && outcome.lastedMs < SHORT_WATCH_MS && !signal.aborted) {
          const delay = this.backoff.next();
          this.o.log.info('watch ended at once, backing off', { resource: this.o.resource.plural, backoffMs: delay });
          await sleep(delay, signal);
        } else {
          this.backoff.reset();
        }
      } catch (err) {
        if (signal.aborted) break;
        if (needList) this.stats.listErrors++;
        else this.stats.watchErrors++;
        // A watch that worked before it broke (a connection reset after a while) starts a new incident: without this
        // the failures of separate incidents added up for as long as no watch ended cleanly (for a quiet resource, up
        // to its 1-2 min server timeout), and the fourth reset a minute kept its cache disconnected for 6-13 s.
        if (!needList && this.watchWorked) this.backoff.reset();
        const delay = this.backoff.next();
        this.o.log.error(needList ? 'list failed, retrying' : 'watch failed, resuming it', err, { resource: this.o.resource.plural, backoffMs: delay, attempt: this.backoff.attempts });
        await sleep(delay, signal);
      }
    }
  }

  /**
   * One watch from the last resourceVersion, until the server ends it, it fails, it stays silent past its idle bound,
   * or the server says the resourceVersion is gone.
   */
  private watchOnce(): Promise<WatchOutcome> {
    const timeoutSeconds = Math.ceil((this.o.watchTimeoutSeconds ?? 60) * (1 + this.random()));
    const idleMs = timeoutSeconds * 1000 + IDLE_GRACE_MS;
    const started = Date.now();
    let delivered = 0;
    let openedAt: number | undefined;
    let gone = false;
    let connection: WatchConnection | undefined;
    let abort: AbortController | undefined;
    return new Promise<WatchOutcome>((resolve, reject) => {
      let settled = false;
      let idle: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.watchWorked = delivered > 0 || (openedAt !== undefined && Date.now() - openedAt >= SHORT_WATCH_MS);
        this.watchOpen = false;
        this.cancelWatch = undefined;
        clearTimeout(idle);
        abort?.abort();
        connection?.destroy(); // also ends a connection attempt that never got an answer
        fn();
      };
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => settle(() => resolve({ kind: 'idle' })), idleMs);
      };
      arm();
      this.cancelWatch = () => settle(() => resolve({ kind: 'ended', delivered, lastedMs: Date.now() - started }));
      this.stats.watches++;
      connection = openWatch(
        this.o.kubeConfig,
        this.path(),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds, ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}) },
        (type, raw) => {
          if (settled) return;
          arm();
          const event = WatchEvent.safeParse({ type, raw });
          if (!event.success) return;
          if (event.data.type === 'ERROR') {
            const code = event.data.raw.code;
            gone = code === 410;
            if (!gone) this.o.log.info('watch error event', { resource: this.o.resource.plural, code });
            return settle(() => (gone ? resolve({ kind: 'gone' }) : reject(Object.assign(new Error(`watch ERROR event ${code ?? ''}`), { code }))));
          }
          const rv = event.data.raw.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (event.data.type === 'BOOKMARK') return;
          const obj = this.o.transform(raw);
          if (!obj) return;
          delivered++;
          const key = this.o.key(obj);
          const previous = this.store.get(key);
          if (event.data.type === 'DELETED') this.store.delete(key);
          else this.store.set(key, obj);
          this.changes++;
          this.o.onEvent?.(event.data.type, obj, previous);
        },
        (err) => {
          if (settled) return;
          if (watchStatusCode(err) === 410) return settle(() => resolve({ kind: 'gone' }));
          if (err && !this.stopper.signal.aborted && !(err instanceof Error && err.name === 'AbortError')) return settle(() => reject(err));
          settle(() => resolve({ kind: 'ended', delivered, lastedMs: Date.now() - started }));
        },
      );
      connection.opened.then(
        (controller) => {
          abort = controller;
          if (settled) return controller.abort();
          this.watchOpen = true;
          openedAt = Date.now();
          this.watchEpoch++;
        },
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }
}
