// The landscape simulator through the real garden API: it plays the gardenlets of a landscape created by the
// fixtures (Gardener's own controllers in the test garden do gardener-controller-manager's part). Nothing here is a fake API: it reads and writes Seeds, Gardenlets and Shoots
// (status subresource included) like the real components would.
// - A Gardenlet whose chart ref names a version other than its seed's status.gardener.version upgrades the seed
//   after `upgradeDelayMs`; managed seeds follow their parent's version after the same delay.
// - Shoots on a seed whose version differs from theirs are reconciled at a random time within `spreadMs` of the
//   seed's upgrade, and any shoot at once when a reconcile was requested (gardener.cloud/operation=reconcile, which
//   gardener-apiserver turns into metadata.generation > status.observedGeneration, and which gardenlet honours
//   whatever version it runs), never while their seed carries the emergency-stop annotation or its gardenlet is
//   gone. A reconcile writes status.gardener.version, lastOperation, conditions and the shoot.gardener.cloud/status
//   label.
// - Faults: a given version makes a given share of the shoots it reconciles unhealthy (on all or chosen seeds),
//   makes chosen seeds not ready, or slows reconciles down.
// - Extensions (opt-in, for the registrations named in `extensions`): gardenlet's side of ControllerInstallations,
//   which Gardener's own controllers create, repoint and delete in the test garden (gardenenv --controllers
//   controllerregistration; the simulator never plays gardener-controller-manager). It adds gardenlet's finalizer,
//   reports Valid (and Installed False on a new installation) when a revision is applied; a revision takes
//   `upgradeDelayMs` to roll out; the care loop, every `careSyncMs`, is the only writer of Installed True, Healthy and
//   Progressing (True when its sync falls into a roll-out, else nothing changes across the revision: Installed
//   stays True), reports Required, and releases its finalizer a moment after a deletion. A rolled-out installation
//   makes the shoots of its seed due for a reconcile within `spreadMs`, as gardenlet's next shoot reconcile is what
//   makes a new extension version act on a shoot. An installed faulty extension version makes shoots unhealthy
//   like a faulty gardenlet version does, and its installation unhealthy on `notReadySeeds`.
// - Shoot reconciles as gardenlet's shoot controller writes them (pkg/gardenlet/controller/shoot/shoot/
//   reconciler.go): a success leaves the health conditions Progressing until the care controller checks them
//   `careDelayMs` later; a failure is Error with lastErrors and is retried every `retryMs`, Processing with the
//   previous lastErrors while it runs; a seed with failing required conditions or an outdated observed generation
//   refuses the reconcile with an Error naming the seed, written by (and stamped with) the seed's gardenlet.
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
  type Condition,
} from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeClient, type KubeObject } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import type { Logger } from '../util/log.js';
import { confinedToMaintenance } from '../engine/planner.js';
import { ExtensionShoot, GARDENLET_INSTALLATION_FINALIZER, isHandledRegistration, neededKindTypesBySeed, requiredKindTypes, shootSeedName } from './installations.js';
import { LABEL_LANDSCAPE } from './landscape-plan.js';
import { ensureLeaseNamespace, renewSeedLease } from './lease.js';
import {
  installationApplyingConditions,
  installationCareConditions,
  installationRollingOutConditions,
  installationRequiredCondition,
  mergeConditions,
  progressingAfterReconcile,
  refusedStatus,
  retryingStatus,
  sameConditions,
  seedRefusal,
  seedStatus,
  shootStatus,
  shootStatusLabel,
  updatedCondition,
  type ShootHealth,
} from './status.js';

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
   * Play gardenlet's side of the ControllerInstallations of these ControllerRegistrations (and of the
   * `<name>-canary*` registrations a rollout creates for them). Without it, installations are left alone.
   */
  extensions?: { registrations: string[] };
  /** gardenlet's installation care controller period (Gardener's default: 30 s). Default 2 s. */
  careSyncMs?: number;
  /** From a successful shoot reconcile to the shoot care controller's verdict on its conditions. Default 500 ms. */
  careDelayMs?: number;
  /** Between the retries of a failed shoot reconcile. Default 5 s. */
  retryMs?: number;
  /**
   * How long a retry runs (Processing with the previous lastErrors) before its outcome is written. Default 0: the next
   * round. A real reconcile takes minutes, so a failing shoot is mostly seen retrying, rarely in Error.
   */
  retryRunMs?: number;
  /**
   * gardenlet's heartbeat (pkg/gardenlet/controller/lease): renew a Lease named after each seed in
   * gardener-system-seed-lease every `leaseResyncMs` (gardenlet's default: 2 s; here 10 s by default, well inside
   * Gardener's 40 s monitor period, to spare the API at landscape scale). Gardener's gardenlet lifecycle controller
   * marks a seed GardenletReady=Unknown when it is not renewed; `staleLeaseSeeds` stop renewing. On by default, as
   * every gardenlet renews its Lease; `false` switches it off.
   */
  gardenletLeases?: { leaseResyncMs?: number; staleLeaseSeeds?: string[] } | false;
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

/**
 * Whether `now` is in the shoot's effective maintenance time window: spec.maintenance.timeWindow (HHMMSS+ZONE, begin
 * and end) with 15 minutes cut off its end, the whole day when absent or unparsable (EffectiveShootMaintenanceTimeWindow
 * in gardener/gardener pkg/utils/gardener/shoot.go; Contains in pkg/apis/utils/timewindow/timewindow.go).
 */
export function inEffectiveMaintenanceWindow(sh: Pick<ExtensionShoot, 'spec'>, now: Date): boolean {
  const w = sh.spec.maintenance?.timeWindow;
  const begin = w && secondOfDay(w.begin);
  const end = w && secondOfDay(w.end);
  if (begin === undefined || end === undefined) return true;
  const effectiveEnd = (end - 15 * 60 + DAY) % DAY;
  const t = now.getUTCHours() * 3600 + now.getUTCMinutes() * 60 + now.getUTCSeconds();
  return begin > effectiveEnd ? t <= effectiveEnd || t >= begin : t >= begin && t <= effectiveEnd;
}

const DAY = 24 * 3600;

/** HHMMSS+ZZZZ (Go layout 150405-0700) as seconds of the UTC day. */
function secondOfDay(v: string): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})([+-])(\d{2})(\d{2})$/.exec(v);
  if (!m) return undefined;
  const [h, min, sec, zh, zm] = [m[1], m[2], m[3], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (h > 23 || min > 59 || sec > 59) return undefined;
  const offset = (m[4] === '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  return (((h * 3600 + min * 60 + sec - offset) % DAY) + DAY) % DAY;
}

/** How many unhealthy writes the simulator records (LiveSimulator.unhealthyWrites). */
const MAX_RECORDED_WRITES = 500;

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
  /** Installations whose deletion gardenlet is working on: when it releases its finalizer. */
  private readonly uninstalling = new Map<string, number>();
  /** When gardenlet's installation care controller last looked at each installation. */
  private readonly caredAt = new Map<string, number>();
  /** Shoots whose health conditions the shoot care controller still has to check after a reconcile: when, and the verdict. */
  private readonly shootCare = new Map<string, { at: number; health: ShootHealth }>();
  /** Shoots whose last reconcile the simulator failed (a fault), and those of them whose retry is running. */
  private readonly failed = new Set<string>();
  /** Retries running, by shoot key: when each started. */
  private readonly retrying = new Map<string, number>();
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
  /** Seeds whose gardenlet is held (holdLease): no Lease renewal, no reconciles. */
  private readonly heldLeases = new Set<string>();
  /**
   * The first unhealthy shoot status writes, with when they were committed and the shoot as the API stored it
   * (timestamps to the second): which of them a gate could count is the benchmark's to say (the write that crosses a
   * threshold).
   */
  readonly unhealthyWrites: { at: number; seed: string; shoot: KubeObject }[] = [];
  /** Counters for tests and logs. */
  readonly stats = {
    seedUpgrades: 0,
    reconciles: 0,
    unhealthy: 0,
    ticks: 0,
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

  /** The seed's gardenlet stops (true) or resumes (false) renewing its Lease and reconciling, as a gardenlet that dies would. */
  holdLease(seed: string, held = true): void {
    if (held) this.heldLeases.add(seed);
    else this.heldLeases.delete(seed);
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
    if (this.o.gardenletLeases !== false) await this.renewLeases(seeds, now);
    await this.upgradeSeeds(seeds, seedByName, gardenlets, managedSeeds, shoots, now);
    const current = ext ? this.observedInstallations(ext.registrations, seeds, installations) : [];
    await this.installControllers(current, seeds, shoots, registrations, deployments, now);
    await this.reconcileShoots(shoots, seedByName, current, now);
    await this.careForShoots(shoots, now);
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

  /** The installations Gardener's controllers made for the handled registrations on this landscape's seeds. */
  private observedInstallations(handled: readonly string[], seeds: readonly Seed[], installations: readonly ControllerInstallation[]): ControllerInstallation[] {
    const seedNames = new Set(seeds.map((s) => s.metadata.name));
    const mine = installations.filter((i) => isHandledRegistration(i.spec.registrationRef.name, handled) && seedNames.has(i.spec.seedRef?.name ?? ''));
    const present = new Set(mine.map((i) => i.metadata.name));
    for (const name of new Set([...this.installed.keys(), ...this.installing.keys(), ...this.uninstalling.keys(), ...this.caredAt.keys()])) if (!present.has(name)) this.forget(name);
    return mine;
  }

  /**
   * gardenlet's Lease reconciler (pkg/gardenlet/controller/lease/reconciler.go: renewLease, then
   * maintainGardenletReadyCondition): one Lease per seed.
   */
  private async renewLeases(seeds: readonly Seed[], now: number): Promise<void> {
    const { leaseResyncMs = 10_000 } = this.o.gardenletLeases || {};
    if (!this.leaseNamespaceReady) {
      await ensureLeaseNamespace(this.client);
      this.leaseNamespaceReady = true;
    }
    const due = seeds.filter(
      (s) => !s.metadata.deletionTimestamp && !this.gardenletHeld(s.metadata.name) && now - (this.leaseRenewedAt.get(s.metadata.name) ?? -Infinity) >= leaseResyncMs,
    );
    await mapLimit(due, this.o.concurrency ?? 16, async (seed) => {
      const name = seed.metadata.name;
      await renewSeedLease(this.client, { name, uid: seed.metadata.uid }, now, leaseResyncMs);
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

  /** A gardenlet the options hold stale, or holdLease holds: no Lease renewal, no reconciles. */
  private gardenletHeld(seed: string): boolean {
    return (!!this.o.gardenletLeases && !!this.o.gardenletLeases.staleLeaseSeeds?.includes(seed)) || this.heldLeases.has(seed);
  }

  private forget(installation: string): void {
    this.installed.delete(installation);
    this.installing.delete(installation);
    this.uninstalling.delete(installation);
    this.caredAt.delete(installation);
  }

  /**
   * gardenlet's installation, care and required controllers (pkg/gardenlet/controller/controllerinstallation/...):
   * a revision it has not installed is applied at once and rolled out after the upgrade delay, unhealthy when the
   * faulty version lands on a not-ready seed; an installed one is looked at again every care period; a deleted one
   * keeps gardenlet's finalizer until its resources are gone (after the upgrade delay). Only changed conditions are
   * written.
   */
  private async installControllers(
    installations: readonly ControllerInstallation[],
    seeds: readonly Seed[],
    shoots: readonly ExtensionShoot[],
    registrations: readonly ControllerRegistration[],
    deployments: readonly ControllerDeployment[],
    now: number,
  ): Promise<void> {
    const delay = this.o.upgradeDelayMs ?? 2000;
    const deploymentByName = new Map(deployments.map((d) => [d.metadata.name, d]));
    const registrationByName = new Map(registrations.map((r) => [r.metadata.name, r]));
    const needed = neededKindTypesBySeed(seeds, shoots);
    const at = new Date(now);
    await mapLimit(installations, this.o.concurrency ?? 16, async (inst) => {
      const name = inst.metadata.name;
      const rv = inst.spec.deploymentRef?.resourceVersion;
      const seed = inst.spec.seedRef?.name;
      if (!seed) return;
      if (inst.metadata.deletionTimestamp) return this.uninstall(inst, now);
      if (!inst.metadata.finalizers?.includes(GARDENLET_INSTALLATION_FINALIZER)) {
        if (!(await this.patchFinalizers(inst, true))) return;
      }
      if (!rv) return;
      const required = installationRequiredCondition(inst.status?.conditions, requiredKindTypes(registrationByName.get(inst.spec.registrationRef.name), needed.get(seed)), at);
      let conditions: Condition[] | undefined;
      if (this.installed.get(name)?.resourceVersion !== rv) {
        const pending = this.installing.get(name);
        if (pending?.resourceVersion !== rv) {
          this.installing.set(name, { resourceVersion: rv, at: now + delay });
          conditions = installationApplyingConditions(inst.status?.conditions, `extension-${name}`, at);
        } else if (now >= pending.at) {
          const version = chartVersion(deploymentByName.get(inst.spec.deploymentRef!.name)?.helm?.ociRepository);
          this.installing.delete(name);
          this.installed.set(name, { resourceVersion: rv, version });
          this.extChangedAt.set(seed, now);
          this.stats.installationsRolledOut++;
          this.log.info('controller installation rolled out', { installation: name, seed, version, healthy: this.installationHealthy(version, seed) });
        }
      }
      // the care controller's periodic sync is the only writer of Installed True, Healthy and Progressing
      if (!conditions && now - (this.caredAt.get(name) ?? -Infinity) >= (this.o.careSyncMs ?? 2000)) {
        this.caredAt.set(name, now);
        const done = this.installed.get(name)?.resourceVersion === rv;
        conditions = done
          ? installationCareConditions(inst.status?.conditions, this.installationHealthy(this.installed.get(name)?.version, seed), at)
          : installationRollingOutConditions(inst.status?.conditions, `extension-${name}`, at);
      }
      const next = mergeConditions(conditions ?? inst.status?.conditions, required);
      if (!sameConditions(inst.status?.conditions, next)) {
        await this.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: next } });
      }
    });
  }

  private installationHealthy(version: string | undefined, seed: string): boolean {
    const faults = this.o.faults ?? {};
    return !(version !== undefined && version === faults.faultyVersion && faults.notReadySeeds?.includes(seed));
  }

  /**
   * Adds or releases gardenlet's finalizer, on the version read (a conflict reads again, at most 3 times). False
   * when the installation is gone.
   */
  private async patchFinalizers(inst: ControllerInstallation, add: boolean): Promise<boolean> {
    let current = inst;
    for (let attempt = 1; ; attempt++) {
      const others = (current.metadata.finalizers ?? []).filter((f) => f !== GARDENLET_INSTALLATION_FINALIZER);
      const finalizers = add ? [...others, GARDENLET_INSTALLATION_FINALIZER] : others;
      try {
        await this.client.patch(RESOURCES.controllerInstallations, current.metadata.name, { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers } });
        return true;
      } catch (err) {
        if (statusCode(err) === 404) return false;
        if (statusCode(err) !== 409 || attempt === 3) throw err;
      }
      const fresh = await this.client.tryGet(RESOURCES.controllerInstallations, ControllerInstallation, current.metadata.name);
      if (!fresh) return false;
      current = fresh;
    }
  }

  /** gardenlet's delete path: DeletionPending while its resources go, then its finalizer is released. */
  private async uninstall(inst: ControllerInstallation, now: number): Promise<void> {
    const name = inst.metadata.name;
    if (!inst.metadata.finalizers?.includes(GARDENLET_INSTALLATION_FINALIZER)) return;
    const due = this.uninstalling.get(name);
    if (due === undefined) {
      this.uninstalling.set(name, now + (this.o.upgradeDelayMs ?? 2000) / 2);
      const pending = updatedCondition(inst.status?.conditions?.find((c) => c.type === 'Installed'), 'Installed', 'False', 'DeletionPending', `Deletion of ManagedResource "extension-${name}" is still pending.`, new Date(now));
      await this.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: mergeConditions(inst.status?.conditions, pending) } });
      return;
    }
    if (now < due) return;
    await this.patchFinalizers(inst, false);
    this.forget(name);
    this.stats.installationsDeleted++;
    this.log.info('controller installation uninstalled', { installation: name });
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

  /**
   * Whether gardenlet would reconcile this shoot now. A stopped seed, or one whose gardenlet is gone (its
   * GardenletReady Unknown, as Gardener's lifecycle controller sets it), reconciles nothing. A failed reconcile is
   * retried every `retryMs`.
   */
  private shootDue(sh: ExtensionShoot, seed: Seed | undefined, now: number): boolean {
    const seedName = seed?.metadata.name;
    const v = seed?.status?.gardener?.version;
    if (!seedName || !v) return false;
    if (seed.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true') return false;
    if (this.gardenletHeld(seedName) || seed.status?.conditions?.find((c) => c.type === 'GardenletReady')?.status === 'Unknown') return false;
    // a requested reconcile: gardener-apiserver turned gardener.cloud/operation=reconcile into a generation bump
    // (and retry on a Failed shoot: gardener-apiserver bumps the generation for it, strategy.go)
    if ((sh.metadata.generation ?? 0) > (sh.status?.observedGeneration ?? 0)) return true;
    // gardenlet does not reconcile a Failed shoot observed at its generation by its own version (IsShootFailedAndUpToDate
    // in pkg/utils/gardener/shoot.go): only a retry (above) moves it; another version reconciles it at start-up
    const op = sh.status?.lastOperation;
    if (op?.state === 'Failed' && v === sh.status?.gardener?.version) return false;
    // confined to the maintenance window: an up-to-date, Succeeded shoot is reconciled regularly only in its effective
    // window (shouldReconcileNow/enqueueAfter in pkg/gardenlet/controller/shoot/shoot/helper/infos.go)
    if (confinedToMaintenance(sh) && op?.state === 'Succeeded' && !inEffectiveMaintenanceWindow(sh, new Date(now))) return false;
    const key = `${sh.metadata.namespace}/${sh.metadata.name}`;
    const lastUpdate = Math.max(this.reconciledAt.get(key) ?? -Infinity, Date.parse(sh.status?.lastOperation?.lastUpdateTime ?? '') || -Infinity);
    const retryStarted = this.retrying.get(key);
    if (retryStarted !== undefined) return now >= retryStarted + (this.o.retryRunMs ?? 0);
    if (this.failed.has(key) && sh.status?.lastOperation?.state === 'Error' && now - lastUpdate >= (this.o.retryMs ?? 5000)) return true;
    const slow = this.o.faults?.slowReconcileMs ?? 0;
    const spread = this.o.spreadMs ?? 5000;
    if (v !== sh.status?.gardener?.version) {
      const upgradedAt = this.seedUpgradedAt.get(seedName) ?? 0;
      if (now >= upgradedAt + draw(`${key}/${v}`) * spread + slow) return true;
    }
    const changedAt = this.extChangedAt.get(seedName);
    if (changedAt === undefined || lastUpdate >= changedAt) return false;
    return now >= changedAt + draw(`${key}/extensions/${changedAt}`) * spread + slow;
  }

  /**
   * gardenlet's shoot reconciles for every due shoot (pkg/gardenlet/controller/shoot/shoot/reconciler.go):
   * - on a seed that is not up to date or has failing required conditions (checkSeed): an Error naming the seed,
   *   stamped with the seed's gardenlet, not written again while the description is the same;
   * - a retry of a reconcile the simulator failed: Processing with the previous lastErrors first, the outcome on the
   *   next round (the landscape's own failing shoots stand for permanent errors and are not retried);
   * - otherwise the outcome: a failure (faults) is Error with lastErrors and unhealthy conditions; a success is
   *   Succeeded with the health conditions Progressing (patchShootStatusOperationSuccess) until the care controller
   *   checks them.
   * Then the status label and the end of a requested operation.
   */
  private async reconcileShoots(shoots: readonly ExtensionShoot[], seedByName: ReadonlyMap<string, Seed>, installations: readonly ControllerInstallation[], now: number): Promise<void> {
    const faults = this.o.faults ?? {};
    const listed = new Set(shoots.map((sh) => `${sh.metadata.namespace}/${sh.metadata.name}`));
    for (const key of this.reconciledAt.keys()) if (!listed.has(key)) this.reconciledAt.delete(key);
    for (const m of [this.shootCare, this.failed, this.retrying]) for (const key of m.keys()) if (!listed.has(key)) m.delete(key);
    const due = shoots.filter((sh) => {
      const seedName = shootSeedName(sh);
      return this.shootDue(sh, seedName ? seedByName.get(seedName) : undefined, now);
    });
    await mapLimit(due, this.o.concurrency ?? 16, async (sh) => {
      const key = `${sh.metadata.namespace}/${sh.metadata.name}`;
      const seedName = shootSeedName(sh)!;
      const seed = seedByName.get(seedName)!;
      const version = seed.status!.gardener!.version!;
      const generation = sh.metadata.generation ?? 1;
      const nowDate = new Date(now);
      this.reconciledAt.set(key, now);
      const refusal = seedRefusal(seed);
      if (refusal) {
        if (sh.status?.lastOperation?.description === refusal && sh.status.gardener?.version === version) return;
        await this.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: refusedStatus(sh.status, seedName, version, refusal, nowDate) }, sh.metadata.namespace);
        return;
      }
      if (this.failed.has(key) && !this.retrying.has(key) && sh.status?.lastOperation?.state === 'Error') {
        this.retrying.set(key, now);
        await this.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: retryingStatus(sh.status, seedName, version, generation, nowDate) }, sh.metadata.namespace);
        return;
      }
      this.retrying.delete(key);
      const hibernated = !!sh.spec.hibernation?.enabled;
      const faultyGardenlet = version === faults.faultyVersion && (!faults.faultySeeds?.length || faults.faultySeeds.includes(seedName));
      const faulty = faultyGardenlet || this.faultyExtensionOn(seedName, installations);
      const unhealthy = !hibernated && faulty && draw(`${key}/health`) < (faults.unhealthyRatio ?? 0);
      const health: ShootHealth = unhealthy ? 'unhealthy' : 'healthy';
      this.stats.reconciles++;
      if (unhealthy) this.stats.unhealthy++;
      if (unhealthy) this.failed.add(key);
      else this.failed.delete(key);
      // the operation gardenlet runs: Create again after a failed Create (ComputeOperationType in pkg/api/core/v1beta1/helper/common.go)
      const prevOp = sh.status?.lastOperation;
      const lastOperationType = prevOp?.type === 'Create' && prevOp.state !== 'Succeeded' ? ('Create' as const) : ('Reconcile' as const);
      const status = shootStatus({ seedName, gardenerVersion: version, health, hibernated, generation, lastOperationType, now: nowDate });
      if (!unhealthy && !hibernated) {
        status.conditions = progressingAfterReconcile(sh.status?.conditions, status.conditions);
        this.shootCare.set(key, { at: now + (this.o.careDelayMs ?? 500), health });
      } else this.shootCare.delete(key);
      const stored = await this.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status }, sh.metadata.namespace);
      if (unhealthy && this.unhealthyWrites.length < MAX_RECORDED_WRITES) this.unhealthyWrites.push({ at: Date.now(), seed: seedName, shoot: stored });
      await this.client.patch(
        RESOURCES.shoots,
        sh.metadata.name,
        { metadata: { labels: shootStatusLabel(unhealthy ? 'unhealthy' : 'progressing', hibernated), annotations: { [ANNOTATION_GARDENER_OPERATION]: null } } },
        sh.metadata.namespace,
      );
    });
  }

  /** gardenlet's shoot care controller: the health conditions of a reconciled shoot, once checked. */
  private async careForShoots(shoots: readonly ExtensionShoot[], now: number): Promise<void> {
    const due = shoots.filter((sh) => (this.shootCare.get(`${sh.metadata.namespace}/${sh.metadata.name}`)?.at ?? Infinity) <= now);
    await mapLimit(due, this.o.concurrency ?? 16, async (sh) => {
      const key = `${sh.metadata.namespace}/${sh.metadata.name}`;
      const { health } = this.shootCare.get(key)!;
      this.shootCare.delete(key);
      if (sh.status?.lastOperation?.state !== 'Succeeded') return; // a newer operation took over
      const checked = shootStatus({ seedName: shootSeedName(sh)!, gardenerVersion: sh.status.gardener?.version ?? '', health, now: new Date(now) }).conditions;
      await this.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: { conditions: checked } }, sh.metadata.namespace);
      await this.client.patch(RESOURCES.shoots, sh.metadata.name, { metadata: { labels: shootStatusLabel(health) } }, sh.metadata.namespace);
    });
  }
}
