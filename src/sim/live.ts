// The landscape simulator through the real garden API: it plays gardenlets and gardener-controller-manager for a
// landscape created by the fixtures. Nothing here is a fake API: it reads and writes Seeds, Gardenlets and Shoots
// (status subresource included) like the real components would.
// - A Gardenlet whose chart ref names a version other than its seed's status.gardener.version upgrades the seed
//   after `upgradeDelayMs`; managed seeds follow their parent's version after the same delay.
// - Shoots on a seed whose version differs from theirs are reconciled at a random time within `spreadMs` of the
//   seed's upgrade, at once when a reconcile was requested (gardener.cloud/operation=reconcile, which
//   gardener-apiserver turns into metadata.generation > status.observedGeneration), never while their seed carries the
//   emergency-stop annotation or is not ready. A reconcile writes status.gardener.version, lastOperation,
//   conditions and the shoot.gardener.cloud/status label.
// - Faults: a given version makes a given share of the shoots it reconciles unhealthy (on all or chosen seeds),
//   makes chosen seeds not ready, or slows reconciles down.
import { createHash } from 'node:crypto';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, Gardenlet, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import { RESOURCES, type KubeClient } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import type { Logger } from '../util/log.js';
import { LABEL_LANDSCAPE } from './landscape.js';
import { seedStatus, shootStatus, shootStatusLabel, type ShootHealth } from './status.js';

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
  /** Counters for tests and logs. */
  readonly stats = { seedUpgrades: 0, reconciles: 0, unhealthy: 0, ticks: 0, firstUnhealthyAt: 0 };

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

  async tick(now = Date.now()): Promise<void> {
    this.stats.ticks++;
    const sel = this.o.prefix ? { labelSelector: `${LABEL_LANDSCAPE}=${this.o.prefix}` } : {};
    const [seeds, gardenlets, managedSeeds, shoots] = await Promise.all([
      this.client.list(RESOURCES.seeds, Seed, sel),
      this.client.list(RESOURCES.gardenlets, Gardenlet, { ...sel, namespace: 'garden' }),
      this.client.list(RESOURCES.managedSeeds, ManagedSeed, { ...sel, namespace: 'garden' }),
      this.client.list(RESOURCES.shoots, Shoot, sel),
    ]);
    const seedByName = new Map(seeds.map((s) => [s.metadata.name, s]));
    const faults = this.o.faults ?? {};
    const delay = this.o.upgradeDelayMs ?? 2000;

    // gardenlets: wanted version per seed (unmanaged: its Gardenlet chart; managed: its parent's running version)
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

    // shoots
    const spread = this.o.spreadMs ?? 5000;
    const due = shoots.filter((sh) => {
      const seedName = sh.status?.seedName ?? sh.spec.seedName;
      const seed = seedName ? seedByName.get(seedName) : undefined;
      const v = seed?.status?.gardener?.version;
      if (!seed || !v || v === sh.status?.gardener?.version) return false;
      if (seed.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true') return false;
      if (seed.status?.conditions?.find((c) => c.type === 'GardenletReady')?.status !== 'True') return false;
      // a requested reconcile: gardener-apiserver turned gardener.cloud/operation=reconcile into a generation bump
      if ((sh.metadata.generation ?? 0) > (sh.status?.observedGeneration ?? 0)) return true;
      const upgradedAt = this.seedUpgradedAt.get(seedName!) ?? 0;
      return now >= upgradedAt + draw(`${sh.metadata.namespace}/${sh.metadata.name}/${v}`) * spread + (faults.slowReconcileMs ?? 0);
    });
    await mapLimit(due, this.o.concurrency ?? 16, async (sh) => {
      const seedName = (sh.status?.seedName ?? sh.spec.seedName)!;
      const version = seedByName.get(seedName)!.status!.gardener!.version!;
      const hibernated = !!sh.spec.hibernation?.enabled;
      const faulty = version === faults.faultyVersion && (!faults.faultySeeds?.length || faults.faultySeeds.includes(seedName));
      const unhealthy = !hibernated && faulty && draw(`${sh.metadata.namespace}/${sh.metadata.name}/health`) < (faults.unhealthyRatio ?? 0);
      const health: ShootHealth = unhealthy ? 'unhealthy' : 'healthy';
      this.stats.reconciles++;
      if (unhealthy) this.stats.unhealthy++;
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
