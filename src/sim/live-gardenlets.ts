// The live simulator's gardenlets, seed by seed: a seed takes the version its Gardenlet chart (or, for a managed seed,
// its parent) names after `upgradeDelayMs`, and its gardenlet renews the seed's Lease unless it is held (a gardenlet
// that died). Shoot reconciles (live-shoots.ts) ask here whether a seed's gardenlet is there to run them.
import type { Gardenlet, ManagedSeed, Seed } from '../gardener/api.js';
import { RESOURCES } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import type { ExtensionShoot } from './installations.js';
import { chartVersion } from './landscape-objects.js';
import { ensureLeaseNamespace, renewSeedLease } from './lease.js';
import type { LiveContext } from './live-options.js';
import { mergeConditions, seedStatus, updatedCondition } from './status.js';

const gardenletReady = (seed: Seed) => seed.status?.conditions?.find((c) => c.type === 'GardenletReady');

export class SimulatedGardenlets {
  /** Upgrades waiting for their delay, by seed. */
  private readonly upgrades = new Map<string, { version: string; at: number }>();
  /** When each seed last took a new version: its shoots are reconciled within `spreadMs` after. */
  private readonly upgradedAt = new Map<string, number>();
  /** When each seed's Lease was last renewed, and whether the Lease namespace is known to exist. */
  private readonly leaseRenewedAt = new Map<string, number>();
  private leaseNamespaceReady = false;
  /** Seeds whose gardenlet is held (hold): no Lease renewal, no reconciles. */
  private readonly heldLeases = new Set<string>();

  constructor(private readonly c: LiveContext) {}

  /** The seed's gardenlet stops (true) or resumes (false) renewing its Lease and reconciling. */
  hold(seed: string, held: boolean): void {
    if (held) this.heldLeases.add(seed);
    else this.heldLeases.delete(seed);
  }

  /** When the seed last took a new version, if the simulator saw it happen. */
  seedUpgradedAt(seed: string): number | undefined {
    return this.upgradedAt.get(seed);
  }

  /**
   * Whether the seed's gardenlet is there to reconcile: not held, and not gone as Gardener's lifecycle controller
   * sees it (GardenletReady Unknown).
   */
  running(seed: Seed): boolean {
    return !this.held(seed.metadata.name) && gardenletReady(seed)?.status !== 'Unknown';
  }

  /** gardenlets: a seed takes its wanted version (unmanaged: its Gardenlet chart; managed: its parent's) after a delay. */
  async upgradeSeeds(
    seeds: readonly Seed[],
    seedByName: ReadonlyMap<string, Seed>,
    gardenlets: readonly Gardenlet[],
    managedSeeds: readonly ManagedSeed[],
    shoots: readonly ExtensionShoot[],
    now: number,
  ): Promise<void> {
    const faults = this.c.o.faults ?? {};
    const delay = this.c.o.upgradeDelayMs ?? 2000;
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
      this.upgradedAt.set(name, now);
      const ready = !(want === faults.faultyVersion && faults.notReadySeeds?.includes(name));
      this.c.stats.seedUpgrades++;
      seedWrites.push(
        this.c.client.patchStatus(RESOURCES.seeds, name, {
          status: seedStatus({ seedName: name, gardenerVersion: want, ready, generation: seed.metadata.generation ?? 1, now: new Date(now) }),
        }),
      );
    }
    await Promise.all(seedWrites);
  }

  /**
   * gardenlet's Lease reconciler (pkg/gardenlet/controller/lease/reconciler.go: renewLease, then
   * maintainGardenletReadyCondition): one Lease per seed.
   */
  async renewLeases(seeds: readonly Seed[], now: number): Promise<void> {
    const { leaseResyncMs = 10_000 } = this.c.o.gardenletLeases || {};
    if (!this.leaseNamespaceReady) {
      await ensureLeaseNamespace(this.c.client);
      this.leaseNamespaceReady = true;
    }
    const due = seeds.filter(
      (s) => !s.metadata.deletionTimestamp && !this.held(s.metadata.name) && now - (this.leaseRenewedAt.get(s.metadata.name) ?? -Infinity) >= leaseResyncMs,
    );
    await mapLimit(due, this.c.o.concurrency ?? 16, async (seed) => {
      const name = seed.metadata.name;
      await renewSeedLease(this.c.client, { name, uid: seed.metadata.uid }, now, leaseResyncMs);
      this.leaseRenewedAt.set(name, now);
      this.c.stats.leaseRenewals++;
      // maintainGardenletReadyCondition: a gardenlet that posts its heartbeat again sets GardenletReady back to True.
      // Only Unknown (what Gardener's lifecycle controller writes) is taken back; False is a simulated fault.
      const old = gardenletReady(seed);
      if (old?.status === 'Unknown') {
        const ready = updatedCondition(old, 'GardenletReady', 'True', 'GardenletReady', 'Gardenlet is posting ready status.', new Date(now));
        await this.c.client.patchStatus(RESOURCES.seeds, name, { status: { conditions: mergeConditions(seed.status?.conditions, ready) } });
      }
    });
    const names = new Set(seeds.map((s) => s.metadata.name));
    for (const n of this.leaseRenewedAt.keys()) if (!names.has(n)) this.leaseRenewedAt.delete(n);
  }

  /** A gardenlet the options hold stale, or hold() holds: no Lease renewal, no reconciles. */
  private held(seed: string): boolean {
    const leases = this.c.o.gardenletLeases;
    return (!!leases && !!leases.staleLeaseSeeds?.includes(seed)) || this.heldLeases.has(seed);
  }
}
