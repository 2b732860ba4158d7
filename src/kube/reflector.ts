// A supervised list+watch cache. Unlike client-node's informer it keeps only what `transform` returns (shoots are
// cached trimmed to the fields the engine reads), and it never stops for good: a 410 or an expired watch relists,
// any other error restarts the watch with exponential backoff, and a periodic full relist guards against watches
// that stall silently (kubernetes-client/javascript #596, #958).
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import type { PooledKubeConfig, ResourceType } from './client.js';

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
  onEvent?: (type: WatchEventType, obj: T) => void;
  /** Full relist period (default 10 minutes). */
  resyncMs?: number;
  pageSize?: number;
}

interface RawList {
  items: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
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

export class Reflector<T> {
  private readonly store = new Map<string, T>();
  private resourceVersion = '';
  private synced = false;
  private readonly stopper = new AbortController();
  private watchAbort: AbortController | undefined;
  /** Ends the watch in flight at once (stop must not wait for client-node's done callback). */
  private cancelWatch: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly api: k8s.CustomObjectsApi;
  /** Counters for metrics: lists and watch restarts. */
  readonly stats = { lists: 0, watches: 0, watchRestarts: 0, errors: 0 };

  constructor(private readonly o: ReflectorOptions<T>) {
    this.api = o.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  get hasSynced(): boolean {
    return this.synced;
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
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.watchAbort?.abort();
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
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    const { group, version, plural } = this.o.resource;
    do {
      const args = { group, version, plural, limit: this.o.pageSize ?? 500, _continue: cont, labelSelector: this.o.labelSelector };
      const page = (await (this.o.namespace
        ? this.api.listNamespacedCustomObject({ ...args, namespace: this.o.namespace })
        : this.api.listClusterCustomObject(args))) as RawList;
      for (const raw of page.items) {
        const obj = this.o.transform(raw);
        if (obj) fresh.set(this.o.key(obj), obj);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    // tell listeners what changed while we were not watching
    for (const [k, old] of this.store) if (!fresh.has(k)) this.o.onEvent?.('DELETED', old);
    for (const [k, obj] of fresh) this.o.onEvent?.(this.store.has(k) ? 'MODIFIED' : 'ADDED', obj);
    this.store.clear();
    for (const [k, v] of fresh) this.store.set(k, v);
    this.resourceVersion = rv;
    this.synced = true;
    this.stats.lists++;
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    let backoff = 500;
    let needList = true;
    let lastList = 0;
    const resync = this.o.resyncMs ?? 600_000;
    while (!signal.aborted) {
      try {
        if (needList || Date.now() - lastList > resync) {
          await this.relist();
          lastList = Date.now();
          needList = false;
        }
        const outcome = await this.watchOnce(Math.max(1000, resync - (Date.now() - lastList)));
        if (outcome === 'gone') needList = true;
        backoff = 500;
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        this.stats.watchRestarts++;
        this.o.log.error('watch failed, retrying', err, { resource: this.o.resource.plural, backoffMs: backoff });
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 30_000);
        needList = true;
      }
    }
  }

  /** One watch until it ends, times out (then resync), or the server says the resourceVersion is gone. */
  private watchOnce(maxMs: number): Promise<'ended' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          fn();
        }
      };
      const timer = setTimeout(() => {
        this.watchAbort?.abort();
        settle(() => resolve('ended'));
      }, maxMs);
      this.cancelWatch = () => settle(() => resolve('ended'));
      const watch = new k8s.Watch(this.o.kubeConfig);
      this.stats.watches++;
      watch
        .watch(
          this.path(),
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: Math.ceil(maxMs / 1000), ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}) },
          (type: string, raw: { metadata?: { resourceVersion?: string }; code?: number }) => {
            if (type === 'ERROR') {
              if (raw.code === 410) gone = true;
              this.watchAbort?.abort();
              return;
            }
            if (raw.metadata?.resourceVersion) this.resourceVersion = raw.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            const obj = this.o.transform(raw);
            if (!obj) return;
            const key = this.o.key(obj);
            if (type === 'DELETED') this.store.delete(key);
            else this.store.set(key, obj);
            this.o.onEvent?.(type as WatchEventType, obj);
          },
          (err: unknown) => {
            if (gone) return settle(() => resolve('gone'));
            const code = (err as { statusCode?: number; code?: number } | undefined)?.statusCode ?? (err as { code?: number } | undefined)?.code;
            if (code === 410) return settle(() => resolve('gone'));
            if (err && !this.stopper.signal.aborted && (err as Error).name !== 'AbortError') return settle(() => reject(err));
            settle(() => resolve('ended'));
          },
        )
        .then((abort) => {
          this.watchAbort = abort;
          if (settled) abort.abort();
        }, (err: unknown) => settle(() => reject(err)));
    });
  }
}
