// The controller's caches (one Reflector per resource it reads) and how fresh they are. Any change to a rollout
// enqueues it; changes in the landscape (seeds, shoots, gardenlets, managed seeds, extension objects) enqueue every
// rollout with a short delay, so a burst of shoot updates costs one reconcile.
import { CanaryRollout } from '../api/v1alpha1.js';
import type { InputFreshness } from '../engine/freshness.js';
import { turnedUnhealthy } from '../engine/health.js';
import type { Shoot } from '../gardener/api.js';
import { namespacedKey, parseDeployment, parseGardenlet, parseManagedSeed, parseRegistration, parseSeed, trimInstallation, trimShoot } from '../gardener/trim.js';
import { nameOf, RESOURCES, type PooledKubeConfig } from '../kube/client.js';
import { FreshnessProber } from '../kube/freshness-prober.js';
import { Reflector, type CacheHealth } from '../kube/reflector.js';
import type { Logger } from '../util/log.js';
import type { Config } from './config.js';
import { GARDEN_NAMESPACE } from './write-context.js';
import type { WorkQueue } from './queue.js';
import { rejectedRollout, type RejectedRollout } from './rejected.js';

/** A landscape change reaches the rollouts within this window, so a burst of changes costs one reconcile. */
const LANDSCAPE_DEBOUNCE_MS = 1000;
/**
 * A shoot that turns unhealthy may cross a gate's threshold: its rollouts are reconciled at once instead of at the
 * end of a window an earlier change opened (about 500 ms of a halt's latency, up to 1 s; issue 16). 1 ms, not 0: a
 * delayed add, so a rollout backing off after failures keeps its retry time.
 */
const DEGRADED_SHOOT_MS = 1;

const byName = (o: { metadata: { name: string } }) => o.metadata.name;

export class ControllerCaches {
  readonly rollouts: Reflector<CanaryRollout>;
  readonly seeds: Reflector<NonNullable<ReturnType<typeof parseSeed>>>;
  readonly shoots: Reflector<NonNullable<ReturnType<typeof trimShoot>>>;
  readonly gardenlets: Reflector<NonNullable<ReturnType<typeof parseGardenlet>>>;
  readonly managedSeeds: Reflector<NonNullable<ReturnType<typeof parseManagedSeed>>>;
  readonly registrations: Reflector<NonNullable<ReturnType<typeof parseRegistration>>>;
  readonly deployments: Reflector<NonNullable<ReturnType<typeof parseDeployment>>>;
  readonly installations: Reflector<NonNullable<ReturnType<typeof trimInstallation>>>;
  /** Stored rollouts the schema rejects, by name: reconciled only to say why (rejected.ts). */
  readonly rejected = new Map<string, RejectedRollout>();
  /** One freshness probe per API group and period for all caches (freshness-prober.ts). */
  private readonly prober: FreshnessProber;

  constructor(
    kubeConfig: PooledKubeConfig,
    private readonly config: Config,
    log: Logger,
    queue: WorkQueue,
  ) {
    const landscapeChanged = (delayMs = LANDSCAPE_DEBOUNCE_MS) => {
      for (const r of this.rollouts.list()) queue.add(r.metadata.name, delayMs);
    };
    const shootChanged = (_type: string, shoot: Shoot, old: Shoot | undefined) => {
      landscapeChanged(turnedUnhealthy(shoot, old) ? DEGRADED_SHOOT_MS : LANDSCAPE_DEBOUNCE_MS);
    };
    // every cache: the shared freshness prober probes for it (no probe of its own), LIST pages of --list-page-size
    const cache = { kubeConfig, log, pageSize: config.listPageSize };
    this.rollouts = new Reflector({
      ...cache,
      resource: RESOURCES.canaryRollouts,
      transform: (raw) => {
        const r = CanaryRollout.safeParse(raw);
        if (r.success) {
          this.rejected.delete(r.data.metadata.name);
          return r.data;
        }
        log.error('CanaryRollout does not match the schema, not reconciled (its status says why)', r.error, { name: nameOf(raw) });
        const rejected = rejectedRollout(raw, r.error);
        if (rejected) {
          this.rejected.set(rejected.name, rejected);
          queue.add(rejected.name);
        }
        return undefined;
      },
      key: byName,
      ...(config.rolloutSelector ? { labelSelector: config.rolloutSelector } : {}),
      onEvent: (_t, o) => queue.add(o.metadata.name),
    });
    this.seeds = new Reflector({ ...cache, resource: RESOURCES.seeds, transform: parseSeed, key: byName, onEvent: () => landscapeChanged() });
    this.shoots = new Reflector({ ...cache, resource: RESOURCES.shoots, transform: trimShoot, key: namespacedKey, onEvent: shootChanged });
    this.gardenlets = new Reflector({ ...cache, resource: RESOURCES.gardenlets, namespace: GARDEN_NAMESPACE, transform: parseGardenlet, key: byName, onEvent: () => landscapeChanged() });
    this.managedSeeds = new Reflector({ ...cache, resource: RESOURCES.managedSeeds, namespace: GARDEN_NAMESPACE, transform: parseManagedSeed, key: byName, onEvent: () => landscapeChanged() });
    this.registrations = new Reflector({ ...cache, resource: RESOURCES.controllerRegistrations, transform: parseRegistration, key: byName, onEvent: () => landscapeChanged() });
    this.deployments = new Reflector({ ...cache, resource: RESOURCES.controllerDeployments, transform: parseDeployment, key: byName, onEvent: () => landscapeChanged() });
    this.installations = new Reflector({ ...cache, resource: RESOURCES.controllerInstallations, transform: trimInstallation, key: byName, onEvent: () => landscapeChanged() });
    this.prober = new FreshnessProber(kubeConfig, log).add(...Object.values(this.byResource()));
  }

  /** Every cache, by the resource name logs and metrics label it with. */
  byResource() {
    return {
      canaryrollouts: this.rollouts,
      seeds: this.seeds,
      shoots: this.shoots,
      gardenlets: this.gardenlets,
      managedseeds: this.managedSeeds,
      controllerregistrations: this.registrations,
      controllerdeployments: this.deployments,
      controllerinstallations: this.installations,
    } as const;
  }

  /** The caches a rollout's observation is built from: the landscape, and for extension targets the extension objects. */
  landscape(extension: boolean): (CacheHealth & { readonly revision: number })[] {
    return [this.seeds, this.managedSeeds, this.shoots, this.gardenlets, ...(extension ? [this.registrations, this.deployments, this.installations] : [])];
  }

  /** How fresh the caches a rollout reads are (the landscape; for extension targets also the extension objects). */
  freshness(extension: boolean, now = Date.now()): InputFreshness {
    const read: CacheHealth[] = [this.rollouts, ...this.landscape(extension)];
    const bound = this.config.cacheStaleSeconds * 1000;
    let freshAsOfMs: number | undefined = now;
    const stale: InputFreshness['stale'] = [];
    for (const c of read) {
      const at = c.confirmedAt;
      freshAsOfMs = at === undefined || freshAsOfMs === undefined ? undefined : Math.min(freshAsOfMs, at);
      if (at === undefined || now - at > bound) stale.push({ resource: c.resource, confirmedAt: at === undefined ? undefined : new Date(at).toISOString() });
    }
    return { freshAsOfMs, stale };
  }

  /** Every cache has completed its first list. */
  get synced(): boolean {
    return Object.values(this.byResource()).every((c) => c.hasSynced);
  }

  /** Starts every cache and the freshness prober. */
  start(): void {
    for (const c of Object.values(this.byResource())) c.start();
    this.prober.start();
  }

  /** Resolves once every cache has completed its first list. */
  async waitForSync(timeoutMs: number): Promise<void> {
    await Promise.all(Object.values(this.byResource()).map((c) => c.waitForSync(timeoutMs)));
  }

  async stop(): Promise<void> {
    this.prober.stop();
    await Promise.all(Object.values(this.byResource()).map((c) => c.stop()));
  }
}
