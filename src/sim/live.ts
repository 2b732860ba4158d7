// The landscape simulator through the real garden API: it plays gardenlets and gardener-controller-manager for a
// landscape created by the fixtures. Nothing here is a fake API: it reads and writes Seeds, Gardenlets and Shoots
// (status subresource included) like the real components would.
// - A Gardenlet whose chart ref names a version other than its seed's status.gardener.version upgrades the seed
//   after `upgradeDelayMs`; managed seeds follow their parent's version after the same delay.
// - Shoots on a seed whose version differs from theirs are reconciled at a random time within `spreadMs` of the
//   seed's upgrade, and any shoot at once when a reconcile was requested (gardener.cloud/operation=reconcile, which
//   gardener-apiserver turns into metadata.generation > status.observedGeneration, and which gardenlet honours
//   whatever version it runs), never while their seed carries the emergency-stop annotation or is not ready. A reconcile writes status.gardener.version, lastOperation,
//   conditions and the shoot.gardener.cloud/status label.
// - Faults: a given version makes a given share of the shoots it reconciles unhealthy (on all or chosen seeds),
//   makes chosen seeds not ready, or slows reconciles down.
// - Extensions (opt-in, for the registrations named in `extensions`): gardener-controller-manager's
//   ControllerInstallation controller (src/sim/installations.ts decides, this class writes) and gardenlet's
//   installation reconciler (Progressing at once, rolled out after `upgradeDelayMs`). A rolled-out installation
//   makes the shoots of its seed due for a reconcile within `spreadMs`, as gardenlet's next shoot reconcile is what
//   makes a new extension version act on a shoot. An installed faulty extension version makes shoots unhealthy
//   like a faulty gardenlet version does, and its installation unhealthy on `notReadySeeds`. With
//   `extensions.installations: 'gardener'` the installations come from Gardener's own controllers running in the
//   test garden (gardenenv --controllers controllerregistration) and the simulator plays only gardenlet's side.
// - gardenlet's heartbeat (opt-in, `gardenletLeases`): the seed Leases in gardener-system-seed-lease that
//   Gardener's gardenlet lifecycle controller (gardenenv --controllers seedlifecycle) watches.
import { createHash } from 'node:crypto';
import {
  ANNOTATION_EMERGENCY_STOP,
  ANNOTATION_GARDENER_OPERATION,
  ControllerDeployment,
  ControllerInstallation,
  ControllerRegistration,
  Gardenlet,
  ManagedSeed,
  Seed,
} from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeClient, type KubeObject } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import type { Logger } from '../util/log.js';
import { ExtensionShoot, installationObject, isHandledRegistration, planInstallations, shootSeedName, wantedInstallations } from './installations.js';
import { LABEL_LANDSCAPE } from './landscape.js';
import { installationDoneConditions, installationProgressingConditions, seedStatus, shootStatus, shootStatusLabel, type ShootHealth } from './status.js';

export interface LiveFaults {
  faultyVersion?: string;
  /** Share of the shoots the faulty version reconciles that end unhealthy. */
  unhealthyRatio?: number;
  /** Limit the faulty version's effect to these seeds (default: all). */
  faultySeeds?: string[];
  /** Seeds that do not become ready after taking the faulty version. */
  notReadySeeds?: string[];
  /** Extra time a reconcile takes. */
  slowReconcileMs?: number;
}

export interface LiveOptions {
  prefix?: string;
  tickMs?: number;
  upgradeDelayMs?: number;
  spreadMs?: number;
  faults?: LiveFaults;
  concurrency?: number;
  /**
   * Play the ControllerInstallation handling for these ControllerRegistrations (and for the `<name>-canary*`
   * registrations a rollout creates for them). Without it, installations are left alone. `installations`:
   * 'simulated' (default) plays gardener-controller-manager too (creates, repoints and deletes installations);
   * 'gardener' leaves that to Gardener's own controllers in the test garden (gardenenv --controllers) and plays
   * only gardenlet's side (installing, conditions).
   */
  extensions?: { registrations: string[]; installations?: 'simulated' | 'gardener' };
  /**
   * gardenlet's heartbeat (pkg/gardenlet/controller/lease): renew a Lease named after each seed in
   * gardener-system-seed-lease every `leaseResyncMs` (gardenlet's default: 2 s). Gardener's gardenlet lifecycle
   * controller marks a seed GardenletReady=Unknown when it is not renewed; `staleLeaseSeeds` stop renewing.
   */
  gardenletLeases?: { leaseResyncMs?: number; staleLeaseSeeds?: string[] };
}

/** Gardener's namespace for the gardenlet heartbeat Leases (gardencorev1beta1.GardenerSeedLeaseNamespace). */
export const SEED_LEASE_NAMESPACE = 'gardener-system-seed-lease';
export const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true } as const;

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** What gardenlet installed for one ControllerInstallation: the deployment revision and its chart version. */
interface Installed {
  resourceVersion: string;
  version: string | undefined;
}

/** Version named by a chart reference: the tag of a ref or the tag field. */
export function chartVersion(oci: { ref?: string | undefined; tag?: string | undefined } | undefined): string | undefined {
  if (!oci) return undefined;
  if (oci.tag) return oci.tag;
  const m = /:([^:/@]+)(@sha256:[a-f0-9]+)?$/.exec(oci.ref ?? '');
  return m?.[1];
}

/** Deterministic per-object draw in [0, 1). */
function draw(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

export class LiveSimulator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly upgrades = new Map<string, { version: string; at: number }>();
  private readonly seedUpgradedAt = new Map<string, number>();
  /** gardenlet's memory per ControllerInstallation name: what it installed, and a rollout in flight. */
  private readonly installed = new Map<string, Installed>();
  private readonly installing = new Map<string, { resourceVersion: string; at: number }>();
  /** Per seed, when an installation last finished rolling out there: shoots reconciled before are due. */
  private readonly extChangedAt = new Map<string, number>();
  /**
   * When this simulator last reconciled each shoot (namespace/name), to the millisecond: the API keeps
   * lastOperation.lastUpdateTime to the second only, which cannot order a reconcile and a rollout in the same second.
   */
  private readonly reconciledAt = new Map<string, number>();
  /** When each seed's Lease was last renewed, and whether the Lease namespace is known to exist. */
  private readonly leaseRenewedAt = new Map<string, number>();
  private leaseNamespaceReady = false;
  /** Counters for tests and logs. */
  readonly stats = {
    seedUpgrades: 0,
    reconciles: 0,
    unhealthy: 0,
    ticks: 0,
    firstUnhealthyAt: 0,
    installationsCreated: 0,
    installationsPatched: 0,
    installationsDeleted: 0,
    installationsRolledOut: 0,
    leaseRenewals: 0,
  };

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly o: LiveOptions = {},
  ) {}

  start(): void {
    const loop = async () => {
      this.running = this.tick().catch((err: unknown) => this.log.error('simulator tick failed', err));
      await this.running;
      if (this.timer !== undefined) this.timer = setTimeout(() => void loop(), this.o.tickMs ?? 500);
    };
    this.timer = setTimeout(() => void loop(), 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Only gardenlet's heartbeat (seed Leases), e.g. while a landscape is still being created. */
  async heartbeat(now = Date.now()): Promise<void> {
    const sel = this.o.prefix ? { labelSelector: `${LABEL_LANDSCAPE}=${this.o.prefix}` } : {};
    await this.renewLeases(await this.client.list(RESOURCES.seeds, Seed, sel), now);
  }

  async tick(now = Date.now()): Promise<void> {
    this.stats.ticks++;
    const sel = this.o.prefix ? { labelSelector: `${LABEL_LANDSCAPE}=${this.o.prefix}` } : {};
    const ext = this.o.extensions;
    const [seeds, gardenlets, managedSeeds, shoots, registrations, deployments, installations] = await Promise.all([
      this.client.list(RESOURCES.seeds, Seed, sel),
      this.client.list(RESOURCES.gardenlets, Gardenlet, { ...sel, namespace: 'garden' }),
      this.client.list(RESOURCES.managedSeeds, ManagedSeed, { ...sel, namespace: 'garden' }),
      this.client.list(RESOURCES.shoots, ExtensionShoot, sel),
      // registrations, deployments and installations are not labelled per landscape: installations are found
      // by the registration and seed they reference
      ext ? this.client.list(RESOURCES.controllerRegistrations, ControllerRegistration) : [],
      ext ? this.client.list(RESOURCES.controllerDeployments, ControllerDeployment) : [],
      ext ? this.client.list(RESOURCES.controllerInstallations, ControllerInstallation) : [],
    ]);
    const seedByName = new Map(seeds.map((s) => [s.metadata.name, s]));
    if (this.o.gardenletLeases) await this.renewLeases(seeds, now);
    await this.upgradeSeeds(seeds, seedByName, gardenlets, managedSeeds, shoots, now);
    const current = !ext
      ? []
      : ext.installations === 'gardener'
        ? this.observedInstallations(ext.registrations, seeds, installations)
        : await this.reconcileInstallations(ext.registrations, seeds, shoots, registrations, deployments, installations);
    await this.installControllers(current, deployments, now);
    await this.reconcileShoots(shoots, seedByName, current, now);
  }

  /** gardenlets: a seed takes its wanted version (unmanaged: its Gardenlet chart; managed: its parent's) after a delay. */
  private async upgradeSeeds(
    seeds: readonly Seed[],
    seedByName: ReadonlyMap<string, Seed>,
    gardenlets: readonly Gardenlet[],
    managedSeeds: readonly ManagedSeed[],
    shoots: readonly ExtensionShoot[],
    now: number,
  ): Promise<void> {
    const faults = this.o.faults ?? {};
    const delay = this.o.upgradeDelayMs ?? 2000;
    const wanted = new Map<string, string>();
    for (const g of gardenlets) {
      const v = chartVersion(g.spec.deployment?.helm?.ociRepository);
      if (v) wanted.set(g.metadata.name, v);
    }
    const gardenShoots = new Map(shoots.filter((s) => s.metadata.namespace === 'garden').map((s) => [s.metadata.name, s]));
    for (const m of managedSeeds) {
      const parent = m.spec.shoot ? gardenShoots.get(m.spec.shoot.name)?.spec.seedName : undefined;
      const pv = parent ? seedByName.get(parent)?.status?.gardener?.version : undefined;
      if (pv) wanted.set(m.metadata.name, pv);
    }
    const seedWrites: Promise<unknown>[] = [];
    for (const seed of seeds) {
      const name = seed.metadata.name;
      const want = wanted.get(name);
      const have = seed.status?.gardener?.version;
      if (!want || want === have) {
        this.upgrades.delete(name);
        continue;
      }
      const pending = this.upgrades.get(name);
      if (!pending || pending.version !== want) {
        this.upgrades.set(name, { version: want, at: now + delay });
        continue;
      }
      if (now < pending.at) continue;
      this.upgrades.delete(name);
      this.seedUpgradedAt.set(name, now);
      const ready = !(want === faults.faultyVersion && faults.notReadySeeds?.includes(name));
      this.stats.seedUpgrades++;
      seedWrites.push(
        this.client.patchStatus(RESOURCES.seeds, name, {
          status: seedStatus({ seedName: name, gardenerVersion: want, ready, generation: seed.metadata.generation ?? 1, now: new Date(now) }),
        }),
      );
    }
    await Promise.all(seedWrites);
  }

  /**
   * gardener-controller-manager: creates, repoints and deletes the installations of the handled registrations on
   * the landscape's seeds. Returns those installations as they are after the writes.
   */
  private async reconcileInstallations(
    handled: readonly string[],
    seeds: readonly Seed[],
    shoots: readonly ExtensionShoot[],
    registrations: readonly ControllerRegistration[],
    deployments: readonly ControllerDeployment[],
    installations: readonly ControllerInstallation[],
  ): Promise<ControllerInstallation[]> {
    const mine = registrations.filter((r) => isHandledRegistration(r.metadata.name, handled));
    const seedNames = new Set(seeds.filter((s) => !s.metadata.deletionTimestamp).map((s) => s.metadata.name));
    // seeds being deleted are left alone: neither new nor removed installations there
    const inScope = installations.filter((i) => isHandledRegistration(i.spec.registrationRef.name, handled) && seedNames.has(i.spec.seedRef?.name ?? ''));
    const plan = planInstallations(wantedInstallations(seeds, shoots, mine, deployments, this.o.prefix), inScope);
    const byName = new Map(inScope.map((i) => [i.metadata.name, i]));
    const limit = this.o.concurrency ?? 16;
    await mapLimit(plan.delete, limit, async (name) => {
      await this.client.delete(RESOURCES.controllerInstallations, name);
      byName.delete(name);
      this.forget(name);
      this.stats.installationsDeleted++;
      this.log.info('controller installation deleted', { installation: name });
    });
    await mapLimit(plan.patch, limit, async (p) => {
      const updated = ControllerInstallation.parse(await this.client.patch(RESOURCES.controllerInstallations, p.name, p.body));
      byName.set(p.name, updated);
      this.stats.installationsPatched++;
      this.log.info('controller installation repointed', { installation: p.name, deployment: p.body.spec.deploymentRef.name, resourceVersion: p.body.spec.deploymentRef.resourceVersion });
    });
    await mapLimit(plan.create, limit, async (w) => {
      const created = ControllerInstallation.parse(await this.client.create(RESOURCES.controllerInstallations, installationObject(w) as KubeObject));
      byName.set(created.metadata.name, created);
      this.stats.installationsCreated++;
      this.log.info('controller installation created', { installation: created.metadata.name, registration: w.registration, seed: w.seed, resourceVersion: w.resourceVersion });
    });
    const present = new Set(installations.map((i) => i.metadata.name));
    for (const name of [...this.installed.keys(), ...this.installing.keys()]) if (!present.has(name) && !byName.has(name)) this.forget(name);
    return [...byName.values()];
  }

  /** The installations Gardener's controllers made for the handled registrations on this landscape's seeds. */
  private observedInstallations(handled: readonly string[], seeds: readonly Seed[], installations: readonly ControllerInstallation[]): ControllerInstallation[] {
    const seedNames = new Set(seeds.map((s) => s.metadata.name));
    const mine = installations.filter((i) => isHandledRegistration(i.spec.registrationRef.name, handled) && seedNames.has(i.spec.seedRef?.name ?? ''));
    const present = new Set(mine.map((i) => i.metadata.name));
    for (const name of [...this.installed.keys(), ...this.installing.keys()]) if (!present.has(name)) this.forget(name);
    return mine;
  }

  /**
   * gardenlet's Lease reconciler (pkg/gardenlet/controller/lease/reconciler.go: renewLease, then
   * maintainGardenletReadyCondition): one Lease per seed.
   */
  private async renewLeases(seeds: readonly Seed[], now: number): Promise<void> {
    const { leaseResyncMs = 2000, staleLeaseSeeds = [] } = this.o.gardenletLeases ?? {};
    if (!this.leaseNamespaceReady) {
      await this.client.core.createNamespace({ body: { metadata: { name: SEED_LEASE_NAMESPACE } } }).catch((err: unknown) => {
        if (statusCode(err) !== 409) throw err;
      });
      this.leaseNamespaceReady = true;
    }
    const due = seeds.filter(
      (s) => !s.metadata.deletionTimestamp && !staleLeaseSeeds.includes(s.metadata.name) && now - (this.leaseRenewedAt.get(s.metadata.name) ?? -Infinity) >= leaseResyncMs,
    );
    await mapLimit(due, this.o.concurrency ?? 16, async (seed) => {
      const name = seed.metadata.name;
      const spec = { holderIdentity: name, leaseDurationSeconds: Math.max(1, Math.round(leaseResyncMs / 1000)), renewTime: microTime(now) };
      try {
        await this.client.patch(LEASES, name, { spec }, SEED_LEASE_NAMESPACE);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
        const uid = seed.metadata.uid;
        const ownerReferences = uid ? [{ apiVersion: 'core.gardener.cloud/v1beta1', kind: 'Seed', name, uid }] : undefined;
        await this.client.create(LEASES, { metadata: { name, namespace: SEED_LEASE_NAMESPACE, ...(ownerReferences ? { ownerReferences } : {}) }, spec });
      }
      this.leaseRenewedAt.set(name, now);
      this.stats.leaseRenewals++;
      // maintainGardenletReadyCondition: a gardenlet that posts its heartbeat again sets GardenletReady back to True.
      // Only Unknown (what Gardener's lifecycle controller writes) is taken back; False is a simulated fault.
      const conditions = seed.status?.conditions ?? [];
      if (conditions.find((c) => c.type === 'GardenletReady')?.status === 'Unknown') {
        const ts = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
        const ready = { type: 'GardenletReady', status: 'True', reason: 'GardenletReady', message: 'Gardenlet is posting ready status.', lastTransitionTime: ts, lastUpdateTime: ts };
        await this.client.patchStatus(RESOURCES.seeds, name, { status: { conditions: conditions.map((c) => (c.type === 'GardenletReady' ? ready : c)) } });
      }
    });
    const names = new Set(seeds.map((s) => s.metadata.name));
    for (const n of this.leaseRenewedAt.keys()) if (!names.has(n)) this.leaseRenewedAt.delete(n);
  }

  private forget(installation: string): void {
    this.installed.delete(installation);
    this.installing.delete(installation);
  }

  /**
   * gardenlet: an installation pointing at a deployment revision it has not installed goes Progressing at once and
   * is rolled out after the upgrade delay, unhealthy when the faulty version lands on a not-ready seed.
   */
  private async installControllers(installations: readonly ControllerInstallation[], deployments: readonly ControllerDeployment[], now: number): Promise<void> {
    const faults = this.o.faults ?? {};
    const delay = this.o.upgradeDelayMs ?? 2000;
    const deploymentByName = new Map(deployments.map((d) => [d.metadata.name, d]));
    await mapLimit(installations, this.o.concurrency ?? 16, async (inst) => {
      const name = inst.metadata.name;
      const rv = inst.spec.deploymentRef?.resourceVersion;
      const seed = inst.spec.seedRef?.name;
      if (!rv || !seed || inst.metadata.deletionTimestamp || this.installed.get(name)?.resourceVersion === rv) return;
      const pending = this.installing.get(name);
      if (pending?.resourceVersion !== rv) {
        this.installing.set(name, { resourceVersion: rv, at: now + delay });
        await this.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: installationProgressingConditions(inst.status?.conditions, new Date(now)) } });
        return;
      }
      if (now < pending.at) return;
      const version = chartVersion(deploymentByName.get(inst.spec.deploymentRef!.name)?.helm?.ociRepository);
      const healthy = !(version !== undefined && version === faults.faultyVersion && faults.notReadySeeds?.includes(seed));
      await this.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: installationDoneConditions(healthy, new Date(now)) } });
      this.installing.delete(name);
      this.installed.set(name, { resourceVersion: rv, version });
      this.extChangedAt.set(seed, now);
      this.stats.installationsRolledOut++;
      this.log.info('controller installation rolled out', { installation: name, seed, version, healthy });
    });
  }

  /** Whether the simulator's gardenlet on `seed` runs an installed extension of the faulty version. */
  private faultyExtensionOn(seed: string, installations: readonly ControllerInstallation[]): boolean {
    const faults = this.o.faults ?? {};
    if (!faults.faultyVersion || (faults.faultySeeds?.length && !faults.faultySeeds.includes(seed))) return false;
    return installations.some((inst) => {
      if (inst.spec.seedRef?.name !== seed) return false;
      const installed = this.installed.get(inst.metadata.name);
      return !!installed && installed.resourceVersion === inst.spec.deploymentRef?.resourceVersion && installed.version === faults.faultyVersion;
    });
  }

  /** Whether gardenlet would reconcile this shoot now; a stopped or not-ready seed reconciles nothing. */
  private shootDue(sh: ExtensionShoot, seed: Seed | undefined, now: number): boolean {
    const seedName = seed?.metadata.name;
    const v = seed?.status?.gardener?.version;
    if (!seedName || !v) return false;
    if (seed.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true') return false;
    if (seed.status?.conditions?.find((c) => c.type === 'GardenletReady')?.status !== 'True') return false;
    // a requested reconcile: gardener-apiserver turned gardener.cloud/operation=reconcile into a generation bump
    if ((sh.metadata.generation ?? 0) > (sh.status?.observedGeneration ?? 0)) return true;
    const key = `${sh.metadata.namespace}/${sh.metadata.name}`;
    const slow = this.o.faults?.slowReconcileMs ?? 0;
    const spread = this.o.spreadMs ?? 5000;
    if (v !== sh.status?.gardener?.version) {
      const upgradedAt = this.seedUpgradedAt.get(seedName) ?? 0;
      if (now >= upgradedAt + draw(`${key}/${v}`) * spread + slow) return true;
    }
    const changedAt = this.extChangedAt.get(seedName);
    const lastUpdate = Math.max(this.reconciledAt.get(key) ?? -Infinity, Date.parse(sh.status?.lastOperation?.lastUpdateTime ?? '') || -Infinity);
    if (changedAt === undefined || lastUpdate >= changedAt) return false;
    return now >= changedAt + draw(`${key}/extensions/${changedAt}`) * spread + slow;
  }

  /** gardenlet's shoot reconciles: status, health (faults) and the status label, for every due shoot. */
  private async reconcileShoots(shoots: readonly ExtensionShoot[], seedByName: ReadonlyMap<string, Seed>, installations: readonly ControllerInstallation[], now: number): Promise<void> {
    const faults = this.o.faults ?? {};
    const listed = new Set(shoots.map((sh) => `${sh.metadata.namespace}/${sh.metadata.name}`));
    for (const key of this.reconciledAt.keys()) if (!listed.has(key)) this.reconciledAt.delete(key);
    const due = shoots.filter((sh) => {
      const seedName = shootSeedName(sh);
      return this.shootDue(sh, seedName ? seedByName.get(seedName) : undefined, now);
    });
    await mapLimit(due, this.o.concurrency ?? 16, async (sh) => {
      const seedName = shootSeedName(sh)!;
      const version = seedByName.get(seedName)!.status!.gardener!.version!;
      const hibernated = !!sh.spec.hibernation?.enabled;
      const faultyGardenlet = version === faults.faultyVersion && (!faults.faultySeeds?.length || faults.faultySeeds.includes(seedName));
      const faulty = faultyGardenlet || this.faultyExtensionOn(seedName, installations);
      const unhealthy = !hibernated && faulty && draw(`${sh.metadata.namespace}/${sh.metadata.name}/health`) < (faults.unhealthyRatio ?? 0);
      const health: ShootHealth = unhealthy ? 'unhealthy' : 'healthy';
      this.stats.reconciles++;
      if (unhealthy) this.stats.unhealthy++;
      this.reconciledAt.set(`${sh.metadata.namespace}/${sh.metadata.name}`, now);
      await this.client.patchStatus(
        RESOURCES.shoots,
        sh.metadata.name,
        { status: shootStatus({ seedName, gardenerVersion: version, health, hibernated, generation: sh.metadata.generation ?? 1, now: new Date(now) }) },
        sh.metadata.namespace,
      );
      if (unhealthy && !this.stats.firstUnhealthyAt) this.stats.firstUnhealthyAt = Date.now(); // the write is committed
      await this.client.patch(
        RESOURCES.shoots,
        sh.metadata.name,
        { metadata: { labels: shootStatusLabel(health, hibernated), annotations: { [ANNOTATION_GARDENER_OPERATION]: null } } },
        sh.metadata.namespace,
      );
    });
  }
}
