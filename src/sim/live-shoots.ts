// The live simulator's shoots, as gardenlet's shoot controllers handle them: when a shoot is due for a reconcile (a
// new gardenlet or extension version on its seed, a requested reconcile, a retry), what the reconcile writes, and the
// care controller's later verdict on the health conditions.
import { createHash } from 'node:crypto';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, type ControllerInstallation, type Seed } from '../gardener/api.js';
import { RESOURCES, type KubeObject } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import { confinedToMaintenance } from '../engine/planner.js';
import { shootSeedName, type ExtensionShoot } from './installations.js';
import type { SimulatedGardenlets } from './live-gardenlets.js';
import type { SimulatedInstallations } from './live-installations.js';
import type { LiveContext } from './live-options.js';
import { progressingAfterReconcile, refusedStatus, retryingStatus, seedRefusal, shootStatus, shootStatusLabel, type ShootHealth } from './status.js';

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
  const field = (i: number) => Number(m[i]);
  const [h, min, sec, zh, zm] = [field(1), field(2), field(3), field(5), field(6)];
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

const shootKey = (sh: ExtensionShoot) => `${sh.metadata.namespace}/${sh.metadata.name}`;

/**
 * The awake shoots of one seed that a faulty reconcile leaves unhealthy: the ceil(ratio x n) with the lowest draws.
 * An exact share per seed rather than an independent draw per shoot: with the 4-8 shoots a test seed has, independent
 * draws at ratio 0.5 leave a seed without a single failure once in 16-256 landscapes.
 */
export function unhealthyShare(shoots: readonly ExtensionShoot[], seedName: string, ratio: number): Set<string> {
  if (ratio <= 0) return new Set();
  const awake = shoots.filter((sh) => shootSeedName(sh) === seedName && !sh.spec.hibernation?.enabled).map(shootKey);
  const ranked = awake.map((key) => ({ key, d: draw(`${key}/health`) })).sort((a, b) => a.d - b.d || a.key.localeCompare(b.key));
  return new Set(ranked.slice(0, Math.ceil(Math.min(1, ratio) * awake.length)).map((r) => r.key));
}

/** A shoot due for a reconcile, with the seed (and that seed's gardenlet version) it runs on. */
interface DueShoot {
  sh: ExtensionShoot;
  seed: Seed;
  version: string;
}

export class SimulatedShoots {
  /** Shoots whose health conditions the shoot care controller still has to check after a reconcile: when, and the verdict. */
  private readonly shootCare = new Map<string, { at: number; health: ShootHealth }>();
  /** Shoots whose last reconcile the simulator failed (a fault), and those of them whose retry is running. */
  private readonly failed = new Set<string>();
  /** Retries running, by shoot key: when each started. */
  private readonly retrying = new Map<string, number>();
  /**
   * When this simulator last reconciled each shoot (namespace/name), to the millisecond: the API keeps
   * lastOperation.lastUpdateTime to the second only, which cannot order a reconcile and a rollout in the same second.
   */
  private readonly reconciledAt = new Map<string, number>();
  /**
   * The first unhealthy shoot status writes, with when they were committed and the shoot as the API stored it
   * (timestamps to the second): which of them a gate could count is the benchmark's to say (the write that crosses a
   * threshold).
   */
  readonly unhealthyWrites: { at: number; seed: string; shoot: KubeObject }[] = [];

  constructor(
    private readonly c: LiveContext,
    private readonly gardenlets: SimulatedGardenlets,
    private readonly installations: SimulatedInstallations,
  ) {}

  /**
   * Whether gardenlet would reconcile this shoot now. A stopped seed, or one whose gardenlet is gone (its
   * GardenletReady Unknown, as Gardener's lifecycle controller sets it), reconciles nothing. A failed reconcile is
   * retried every `retryMs`.
   */
  private due({ sh, seed, version: v }: DueShoot, now: number): boolean {
    const seedName = seed.metadata.name;
    if (seed.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true') return false;
    if (!this.gardenlets.running(seed)) return false;
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
    const key = shootKey(sh);
    const lastUpdate = Math.max(this.reconciledAt.get(key) ?? -Infinity, Date.parse(sh.status?.lastOperation?.lastUpdateTime ?? '') || -Infinity);
    const retryStarted = this.retrying.get(key);
    if (retryStarted !== undefined) return now >= retryStarted + (this.c.o.retryRunMs ?? 0);
    if (this.failed.has(key) && sh.status?.lastOperation?.state === 'Error' && now - lastUpdate >= (this.c.o.retryMs ?? 5000)) return true;
    const slow = this.c.o.faults?.slowReconcileMs ?? 0;
    const spread = this.c.o.spreadMs ?? 5000;
    if (v !== sh.status?.gardener?.version) {
      const upgradedAt = this.gardenlets.seedUpgradedAt(seedName) ?? 0;
      if (now >= upgradedAt + draw(`${key}/${v}`) * spread + slow) return true;
    }
    const changedAt = this.installations.seedChangedAt(seedName);
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
  async reconcile(shoots: readonly ExtensionShoot[], seedByName: ReadonlyMap<string, Seed>, installations: readonly ControllerInstallation[], now: number): Promise<void> {
    const faults = this.c.o.faults ?? {};
    const listed = new Set(shoots.map(shootKey));
    for (const m of [this.reconciledAt, this.shootCare, this.failed, this.retrying]) for (const key of m.keys()) if (!listed.has(key)) m.delete(key);
    const shares = new Map<string, Set<string>>();
    const share = (seedName: string) => {
      let keys = shares.get(seedName);
      if (!keys) shares.set(seedName, (keys = unhealthyShare(shoots, seedName, faults.unhealthyRatio ?? 0)));
      return keys;
    };
    const due: DueShoot[] = [];
    for (const sh of shoots) {
      const seedName = shootSeedName(sh);
      const seed = seedName ? seedByName.get(seedName) : undefined;
      const version = seed?.status?.gardener?.version;
      if (seed && version && this.due({ sh, seed, version }, now)) due.push({ sh, seed, version });
    }
    await mapLimit(due, this.c.o.concurrency ?? 16, async ({ sh, seed, version }) => {
      const key = shootKey(sh);
      const seedName = seed.metadata.name;
      const generation = sh.metadata.generation ?? 1;
      const nowDate = new Date(now);
      this.reconciledAt.set(key, now);
      const refusal = seedRefusal(seed);
      if (refusal) {
        if (sh.status?.lastOperation?.description === refusal && sh.status.gardener?.version === version) return;
        await this.c.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: refusedStatus(sh.status, seedName, version, refusal, nowDate) }, sh.metadata.namespace);
        return;
      }
      if (this.failed.has(key) && !this.retrying.has(key) && sh.status?.lastOperation?.state === 'Error') {
        this.retrying.set(key, now);
        await this.c.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: retryingStatus(sh.status, seedName, version, generation, nowDate) }, sh.metadata.namespace);
        return;
      }
      this.retrying.delete(key);
      const hibernated = !!sh.spec.hibernation?.enabled;
      const faultyGardenlet = version === faults.faultyVersion && (!faults.faultySeeds?.length || faults.faultySeeds.includes(seedName));
      const faulty = faultyGardenlet || this.installations.faultyOn(seedName, installations);
      const unhealthy = !hibernated && faulty && share(seedName).has(key);
      const health: ShootHealth = unhealthy ? 'unhealthy' : 'healthy';
      this.c.stats.reconciles++;
      if (unhealthy) this.c.stats.unhealthy++;
      if (unhealthy) this.failed.add(key);
      else this.failed.delete(key);
      // the operation gardenlet runs: Create again after a failed Create (ComputeOperationType in pkg/api/core/v1beta1/helper/common.go)
      const prevOp = sh.status?.lastOperation;
      const lastOperationType = prevOp?.type === 'Create' && prevOp.state !== 'Succeeded' ? ('Create' as const) : ('Reconcile' as const);
      const status = shootStatus({ seedName, gardenerVersion: version, health, hibernated, generation, lastOperationType, now: nowDate });
      if (!unhealthy && !hibernated) {
        status.conditions = progressingAfterReconcile(sh.status?.conditions, status.conditions);
        this.shootCare.set(key, { at: now + (this.c.o.careDelayMs ?? 500), health });
      } else this.shootCare.delete(key);
      const stored = await this.c.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status }, sh.metadata.namespace);
      if (unhealthy && this.unhealthyWrites.length < MAX_RECORDED_WRITES) this.unhealthyWrites.push({ at: Date.now(), seed: seedName, shoot: stored });
      await this.c.client.patch(
        RESOURCES.shoots,
        sh.metadata.name,
        { metadata: { labels: shootStatusLabel(unhealthy ? 'unhealthy' : 'progressing', hibernated), annotations: { [ANNOTATION_GARDENER_OPERATION]: null } } },
        sh.metadata.namespace,
      );
    });
  }

  /** gardenlet's shoot care controller: the health conditions of a reconciled shoot, once checked. */
  async care(shoots: readonly ExtensionShoot[], now: number): Promise<void> {
    const due = shoots.flatMap((sh) => {
      const check = this.shootCare.get(shootKey(sh));
      return check && check.at <= now ? [{ sh, health: check.health }] : [];
    });
    await mapLimit(due, this.c.o.concurrency ?? 16, async ({ sh, health }) => {
      this.shootCare.delete(shootKey(sh));
      const seedName = shootSeedName(sh);
      if (sh.status?.lastOperation?.state !== 'Succeeded' || !seedName) return; // a newer operation took over
      const checked = shootStatus({ seedName, gardenerVersion: sh.status.gardener?.version ?? '', health, now: new Date(now) }).conditions;
      await this.c.client.patchStatus(RESOURCES.shoots, sh.metadata.name, { status: { conditions: checked } }, sh.metadata.namespace);
      await this.c.client.patch(RESOURCES.shoots, sh.metadata.name, { metadata: { labels: shootStatusLabel(health) } }, sh.metadata.namespace);
    });
  }
}
