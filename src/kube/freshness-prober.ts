// Freshness probes shared by the caches of one API group (issue 16: nothing sent while nothing changes, beyond a
// heartbeat). A cache needs a quorum read that succeeds while its watch stays open across it to count as confirmed
// (reflector.ts); every cache doing its own LIST limit=1 each period cost 8 LISTs per 5 s. One GET by name per API
// group and period gives each cache of the group the same evidence: the group's API server (kube-apiserver for
// canary.gardener.cloud, gardener-apiserver behind the aggregator for the Gardener groups) answered a read from
// etcd while the cache's watch stayed connected. A GET without resourceVersion is read from etcd, never from the
// watch cache (CacheDelegator.Get in k8s.io/apiserver/pkg/storage/cacher/delegator.go, v0.36), and a 404 is such an
// answer too: the probe asks for an object that does not exist, under a name that says what it is.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../util/log.js';
import { statusCode, type PooledKubeConfig } from './client.js';
import type { Reflector } from './reflector.js';

/** The object every probe asks for; it never exists, and the name tells whoever reads an audit log why it is asked. */
export const PROBE_OBJECT_NAME = 'canary-rollout-freshness-probe';

type Probed = Pick<Reflector<unknown>, 'probeToken' | 'credit' | 'source'>;

export class FreshnessProber {
  private readonly groups = new Map<string, Probed[]>();
  private readonly api: k8s.CustomObjectsApi;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();

  constructor(
    kubeConfig: PooledKubeConfig,
    private readonly log: Logger,
    private readonly intervalMs = 5000,
  ) {
    this.api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Probes for these caches, grouped by API group. */
  add(...caches: Probed[]): this {
    for (const c of caches) {
      const g = c.source.resource.group;
      this.groups.set(g, [...(this.groups.get(g) ?? []), c]);
    }
    return this;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.probeAll(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: a probe per group whose caches have a watch open (none is sent for a group with no watch open). */
  async probeAll(): Promise<void> {
    await Promise.all([...this.groups].map(([group, members]) => this.probeGroup(group, members)));
  }

  private async probeGroup(group: string, members: readonly Probed[]): Promise<void> {
    if (this.inFlight.has(group)) return;
    const tokens = members.map((m) => m.probeToken());
    const first = members[0];
    if (!first || tokens.every((t) => t === undefined)) return;
    this.inFlight.add(group);
    const { resource, namespace } = first.source;
    const sent = Date.now();
    let ok = true;
    try {
      const args = { group: resource.group, version: resource.version, plural: resource.plural, name: PROBE_OBJECT_NAME };
      await (namespace ? this.api.getNamespacedCustomObject({ ...args, namespace }) : this.api.getClusterCustomObject(args));
    } catch (err) {
      ok = statusCode(err) === 404;
      if (!ok) this.log.debug('freshness probe failed', { group, error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.inFlight.delete(group);
    }
    members.forEach((m, i) => {
      const t = tokens[i];
      if (t !== undefined) m.credit(t, sent, ok);
    });
  }
}
