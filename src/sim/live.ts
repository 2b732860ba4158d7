// The landscape simulator through the real garden API: it plays the gardenlets of a landscape created by the
// fixtures (Gardener's own controllers in the test garden do gardener-controller-manager's part). Nothing here is a
// fake API: it reads and writes Seeds, Gardenlets and Shoots (status subresource included) like the real components
// would. This module is its loop; the parts it runs each tick are live-gardenlets.ts, live-installations.ts and
// live-shoots.ts.
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
import { ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, ManagedSeed, Seed } from '../gardener/api.js';
import { RESOURCES, type KubeClient, type KubeObject } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import { ExtensionShoot } from './installations.js';
import { LABEL_LANDSCAPE } from './landscape-plan.js';
import { SimulatedGardenlets } from './live-gardenlets.js';
import { SimulatedInstallations } from './live-installations.js';
import type { LiveContext, LiveOptions, LiveStats } from './live-options.js';
import { SimulatedShoots } from './live-shoots.js';

export class LiveSimulator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly gardenlets: SimulatedGardenlets;
  private readonly installations: SimulatedInstallations;
  private readonly shoots: SimulatedShoots;
  /** Counters for tests and logs. */
  readonly stats: LiveStats = {
    seedUpgrades: 0,
    reconciles: 0,
    unhealthy: 0,
    ticks: 0,
    installationsDeleted: 0,
    installationsRolledOut: 0,
    leaseRenewals: 0,
  };
  /**
   * The first unhealthy shoot status writes, with when they were committed and the shoot as the API stored it
   * (timestamps to the second): which of them a gate could count is the benchmark's to say.
   */
  readonly unhealthyWrites: readonly { at: number; seed: string; shoot: KubeObject }[];

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly o: LiveOptions = {},
  ) {
    const context: LiveContext = { client, log, o, stats: this.stats };
    this.gardenlets = new SimulatedGardenlets(context);
    this.installations = new SimulatedInstallations(context);
    this.shoots = new SimulatedShoots(context, this.gardenlets, this.installations);
    this.unhealthyWrites = this.shoots.unhealthyWrites;
  }

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
    this.gardenlets.hold(seed, held);
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
    if (this.o.gardenletLeases !== false) await this.gardenlets.renewLeases(seeds, now);
    await this.gardenlets.upgradeSeeds(seeds, seedByName, gardenlets, managedSeeds, shoots, now);
    const current = ext ? this.installations.observed(ext.registrations, seeds, installations) : [];
    await this.installations.install(current, seeds, shoots, registrations, deployments, now);
    await this.shoots.reconcile(shoots, seedByName, current, now);
    await this.shoots.care(shoots, now);
  }
}
