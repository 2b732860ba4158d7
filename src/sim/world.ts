// A simulated landscape for the engine: seeds, managed seeds and shoots that react to effects the way gardenlets,
// gardener-controller-manager and shoots would, with injected faults. Pure and seeded: the same seed gives the same
// run. Used by the simulation tests; the real-API landscape simulator builds on the same status builders.
// Writes behave like the API server's: writing the value an object already has changes nothing, so repeated
// convergence is free, and every real change is counted (`changes`) for the invariants.
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import type { Effect } from '../engine/effects.js';
import { observe, type ExtensionObjects, type Observation } from '../engine/evaluate.js';
import { matchesSelector } from '../engine/selector.js';
import type { LabelSelector } from '../api/fields.js';
import { canonical } from '../engine/extension.js';
import { seedStatus, shootStatus, type ShootHealth } from './status.js';

const sameContent = (a: unknown, b: unknown): boolean => canonical(a ?? {}) === canonical(b ?? {});

/** mulberry32: a small, good-enough seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimSeed {
  name: string;
  provider: string;
  region: string;
  labels: Record<string, string>;
  parent?: string;
  version: string;
  /** The version the seed's Gardenlet chart names (unmanaged seeds; managed seeds follow their parent). */
  chart: string;
  ready: boolean;
  /** Version a promotion (or revert) will bring, and when. */
  pending?: { version: string; at: number };
  /** Fault: after taking the new version the seed never becomes ready. */
  breaksOnUpgrade: boolean;
  emergencyStopped: boolean;
  released?: number;
  exists: boolean;
  /** The rollout's marks (wave name, canary), as markSeed/unmarkSeed left them. */
  marks?: { wave: string; canary: boolean };
}

export interface SimShoot {
  namespace: string;
  name: string;
  seed: string;
  hibernated: boolean;
  health: ShootHealth;
  userError: boolean;
  version: string;
  /** When the last reconcile finished (ms). */
  reconciledAt: number;
  /** metadata.generation; a reconcile request (gardener.cloud/operation=reconcile) increases it, as gardener-apiserver does. */
  generation: number;
  observedGeneration: number;
  processing?: { until: number; version: string; ext?: string | undefined };
  /** Extension version the shoot last reconciled with (extension mode). */
  ext?: string | undefined;
}

/** Extension mode: one registration (kind Extension, policy Always) whose deployment the rollout changes. */
export interface SimExtension {
  name: string;
  primary: boolean;
  deployments: Map<string, { rv: number; helm: Record<string, unknown> }>;
  registrations: Map<string, { deployment: string; selector?: LabelSelector | undefined }>;
  /** Installations by `registration/seed`: the revision wanted and the one installed (after a delay). */
  installations: Map<string, { registration: string; seed: string; deployment: string; rv: number; installed?: number; installedAt?: number; pendingAt?: number }>;
}

/** The chart version of helm content (tag of the OCI ref). */
export function helmVersion(helm: Record<string, unknown> | undefined): string | undefined {
  const oci = (helm?.ociRepository ?? {}) as { ref?: string; tag?: string };
  return oci.tag ?? /:([^:/@]+)$/.exec(oci.ref ?? '')?.[1];
}

export interface Faults {
  /** Probability that a shoot reconciled by the new version on a "bad" seed ends unhealthy. */
  badSeedFailureRate: number;
  badSeeds: Set<string>;
  /** Background failure rate of any reconcile (noise). */
  noiseRate: number;
  /** Share of failures that carry a user error code. */
  userErrorShare: number;
}

/** Real changes the rollout's writes made, for the invariants. */
export interface WorldChanges {
  /** Chart writes to the new version, per seed. */
  promotions: Map<string, number>;
  reverts: Map<string, number>;
  reconcileRequests: number;
  /** Every real change, in order: `promote S`, `revert S`, `stop S`, `release S`, `deployment NAME VERSION`, ... */
  log: string[];
}

export class World {
  now: number;
  readonly changes: WorldChanges = { promotions: new Map(), reverts: new Map(), reconcileRequests: 0, log: [] };
  seeds = new Map<string, SimSeed>();
  shoots: SimShoot[] = [];
  readonly random: () => number;
  ext?: SimExtension;
  private rv = 100;

  constructor(
    seed: number,
    readonly oldVersion: string,
    readonly newVersion: string,
    readonly faults: Faults,
    start = Date.parse('2026-11-23T08:00:00Z'),
  ) {
    this.random = rng(seed);
    this.now = start;
  }

  addSeed(s: Omit<SimSeed, 'version' | 'chart' | 'ready' | 'emergencyStopped' | 'exists' | 'breaksOnUpgrade'> & { breaksOnUpgrade?: boolean }): void {
    this.seeds.set(s.name, { version: this.oldVersion, chart: this.oldVersion, ready: true, emergencyStopped: false, exists: true, breaksOnUpgrade: false, ...s });
  }

  addShoot(s: Omit<SimShoot, 'version' | 'reconciledAt' | 'generation' | 'observedGeneration'>): void {
    this.shoots.push({ version: this.oldVersion, reconciledAt: this.now - 3600_000, generation: 1, observedGeneration: 1, ...(this.ext ? { ext: this.oldVersion } : {}), ...s });
  }

  /**
   * Extension mode: the rollout changes ControllerDeployment `name` (registration `name`, installed on every
   * seed); oldVersion/newVersion are extension versions then. Installations exist and run oldVersion already.
   */
  enableExtension(name: string, primary: boolean): void {
    this.ext = {
      name,
      primary,
      deployments: new Map([[name, { rv: this.rv++, helm: { ociRepository: { ref: `r/${name}:${this.oldVersion}` } } }]]),
      registrations: new Map([[name, { deployment: name }]]),
      installations: new Map(),
    };
    this.syncInstallations();
    for (const ci of this.ext.installations.values()) ci.installed = ci.rv;
    for (const sh of this.shoots) sh.ext = this.oldVersion;
  }

  /** gardener-controller-manager: one installation per (registration, selected seed), following the deployment. */
  private syncInstallations(): void {
    const ext = this.ext!;
    const wanted = new Set<string>();
    for (const [reg, r] of ext.registrations) {
      const d = ext.deployments.get(r.deployment);
      if (!d) continue;
      for (const s of this.seeds.values()) {
        if (!s.exists || !matchesSelector(s.labels, r.selector)) continue;
        const key = `${reg}/${s.name}`;
        wanted.add(key);
        const ci = ext.installations.get(key);
        if (!ci) ext.installations.set(key, { registration: reg, seed: s.name, deployment: r.deployment, rv: d.rv, pendingAt: this.now + 3 * 60_000 });
        else if (ci.rv !== d.rv) Object.assign(ci, { rv: d.rv, pendingAt: this.now + 3 * 60_000 });
      }
    }
    for (const k of [...ext.installations.keys()]) if (!wanted.has(k)) ext.installations.delete(k);
  }

  /** The extension version a seed's installation runs now (extension mode). */
  private extVersionOn(seed: string): string | undefined {
    const ext = this.ext!;
    for (const ci of ext.installations.values()) {
      if (ci.seed !== seed || ci.installed === undefined) continue;
      return helmVersion(ext.deployments.get(ci.deployment)?.helm);
    }
    return undefined;
  }

  apply(effects: readonly Effect[]): void {
    for (const e of effects) this.applyOne(e);
    if (this.ext) this.syncInstallations();
  }

  private applyOne(e: Effect): void {
    const seed = 'seed' in e ? this.seeds.get(e.seed) : undefined;
    switch (e.type) {
      case 'markSeed':
        if (!seed?.exists || (seed.marks?.wave === e.wave && seed.marks.canary === e.canary)) return;
        seed.marks = { wave: e.wave, canary: e.canary };
        this.changes.log.push(`mark ${e.seed}`);
        return;
      case 'unmarkSeed':
        if (!seed?.marks) return;
        delete seed.marks;
        this.changes.log.push(`unmark ${e.seed}`);
        return;
      case 'promoteSeed':
        // managed seeds have no Gardenlet of their own: they follow their parent
        if (!seed?.exists || seed.parent || seed.chart === e.version) return;
        seed.chart = e.version;
        seed.pending = { version: e.version, at: this.now + (5 + this.random() * 15) * 60_000 };
        this.changes.promotions.set(e.seed, (this.changes.promotions.get(e.seed) ?? 0) + 1);
        this.changes.log.push(`promote ${e.seed}`);
        return;
      case 'revertSeed':
        // only over the chart the rollout wrote
        if (!seed?.exists || seed.parent || !e.previousVersion || seed.chart === e.previousVersion || seed.chart !== this.newVersion) return;
        seed.chart = e.previousVersion;
        seed.pending = { version: e.previousVersion, at: this.now + 10 * 60_000 };
        this.changes.reverts.set(e.seed, (this.changes.reverts.get(e.seed) ?? 0) + 1);
        this.changes.log.push(`revert ${e.seed}`);
        return;
      case 'emergencyStopSeed':
        if (!seed || seed.emergencyStopped) return;
        seed.emergencyStopped = true;
        this.changes.log.push(`stop ${e.seed}`);
        return;
      case 'clearEmergencyStop':
        if (!seed?.emergencyStopped) return;
        seed.emergencyStopped = false;
        seed.released = this.now;
        this.changes.log.push(`release ${e.seed}`);
        return;
      case 'updateControllerDeployment': {
        const d = this.ext?.deployments.get(e.name);
        if (!d || sameContent(d.helm, e.helm) || (e.replaces && !sameContent(d.helm, e.replaces))) return;
        Object.assign(d, { helm: e.helm, rv: this.rv++ });
        this.changes.log.push(`deployment ${e.name} ${helmVersion(e.helm)}`);
        return;
      }
      case 'createCanaryRegistration': {
        const ext = this.ext!;
        if (!ext.deployments.has(e.deployment)) ext.deployments.set(e.deployment, { rv: this.rv++, helm: e.helm });
        if (ext.registrations.has(e.registration)) return;
        ext.registrations.set(e.registration, { deployment: e.deployment, selector: { matchLabels: { [e.seedLabel]: 'true' } } });
        this.changes.log.push(`temporary create ${e.registration}`);
        return;
      }
      case 'deleteCanaryRegistration':
        if (!this.ext?.registrations.has(e.registration) && !this.ext?.deployments.has(e.deployment)) return;
        this.ext.registrations.delete(e.registration);
        this.ext.deployments.delete(e.deployment);
        this.changes.log.push(`temporary delete ${e.registration}`);
        return;
      case 'gateRegistration': {
        const r = this.ext?.registrations.get(e.registration);
        if (!r || (r.selector !== undefined) === e.on) return;
        r.selector = e.on ? { matchExpressions: [{ key: e.seedLabel, operator: 'DoesNotExist' }] } : undefined;
        this.changes.log.push(`gate ${e.registration} ${e.on ? 'on' : 'off'}`);
        return;
      }
      case 'labelSeed':
        if (!seed || (seed.labels[e.key] ?? null) === e.value) return;
        if (e.value === null) delete seed.labels[e.key];
        else {
          seed.labels[e.key] = e.value;
          seed.released = this.now;
        }
        this.changes.log.push(`label ${e.seed} ${e.value ?? '-'}`);
        return;
      case 'requestShootReconciles': {
        const budget = Math.max(0, e.maxPerMinute - e.pending);
        const byKey = new Map(this.shoots.map((x) => [`${x.namespace}/${x.name}`, x]));
        for (const ref of e.shoots.slice(0, budget)) {
          const sh = byKey.get(`${ref.namespace}/${ref.name}`);
          if (!sh) continue;
          // gardener-apiserver bumps the generation for reconcile, and for retry on a Failed shoot (strategy.go); the
          // simulated shoots never fail for good, so both reach gardenlet the same way here
          sh.generation++;
          this.changes.reconcileRequests++;
          this.changes.log.push(`${ref.operation} ${sh.seed} ${ref.namespace}/${ref.name}`);
        }
        return;
      }
      case 'emitEvent':
        return;
    }
  }

  /** Advances the clock: upgrades land, managed seeds follow their parents, shoots reconcile. */
  advance(ms: number): void {
    this.now += ms;
    for (const s of this.seeds.values()) {
      if (s.pending && this.now >= s.pending.at) {
        s.version = s.pending.version;
        s.ready = !(s.breaksOnUpgrade && s.version === this.newVersion);
        delete s.pending;
      }
    }
    for (const s of this.seeds.values()) {
      const p = s.parent ? this.seeds.get(s.parent) : undefined;
      if (p && p.version !== s.version && !s.pending) {
        s.chart = p.version;
        s.pending = { version: p.version, at: this.now + 5 * 60_000 };
      }
    }
    if (this.ext) {
      this.syncInstallations();
      for (const ci of this.ext.installations.values()) {
        if (ci.pendingAt !== undefined && this.now >= ci.pendingAt) {
          Object.assign(ci, { installed: ci.rv, installedAt: this.now });
          delete ci.pendingAt;
        }
      }
    }
    for (const sh of this.shoots) {
      const seed = this.seeds.get(sh.seed)!;
      if (!seed.exists) continue;
      // a requested reconcile (generation ahead of observedGeneration) starts when the seed lets it
      const requested = sh.generation > sh.observedGeneration;
      if (sh.processing && this.now >= sh.processing.until) {
        // the reconcile finishes with what it started with: the extension version in extension mode, else gardenlet's
        const ran = this.ext ? (sh.ext = sh.processing.ext) : (sh.version = sh.processing.version);
        sh.reconciledAt = this.now;
        delete sh.processing;
        const bad = this.faults.badSeeds.has(sh.seed) && ran === this.newVersion ? this.faults.badSeedFailureRate : 0;
        const fails = !sh.hibernated && this.random() < Math.max(bad, this.faults.noiseRate);
        sh.health = fails ? 'unhealthy' : 'healthy';
        if (this.ext) continue; // in extension mode: no user-error draw, and no new reconcile in the same step
        sh.userError = fails && this.random() < this.faults.userErrorShare;
      }
      if (this.ext) {
        // an installation change (or a release) reaches a shoot with its next reconcile, unless the seed is stopped
        const runs = this.extVersionOn(sh.seed);
        const wantsExt = runs !== sh.ext || (seed.released !== undefined && sh.reconciledAt < seed.released);
        if (!sh.processing && (requested || (wantsExt && this.random() < ms / 3600_000 + 0.05)) && !seed.emergencyStopped && seed.ready) {
          sh.processing = { until: this.now + 10 * 60_000, version: sh.version, ext: runs };
          sh.observedGeneration = sh.generation;
        }
        continue;
      }
      // a seed at a new version (or a released seed) reconciles its shoots over the next hour, unless stopped
      const wants = seed.version !== sh.version || (seed.released !== undefined && sh.reconciledAt < seed.released);
      if (!sh.processing && (requested || (wants && this.random() < ms / 3600_000 + 0.05)) && !seed.emergencyStopped && seed.ready) {
        sh.processing = { until: this.now + 10 * 60_000, version: seed.version };
        sh.observedGeneration = sh.generation;
      }
    }
  }

  /** Gardener objects as the controller would list them. */
  objects(): { seeds: Seed[]; managedSeeds: ManagedSeed[]; shoots: Shoot[] } {
    const now = new Date(this.now);
    const seeds: Seed[] = [];
    const managedSeeds: ManagedSeed[] = [];
    const shoots: Shoot[] = [];
    for (const s of this.seeds.values()) {
      if (!s.exists) continue;
      seeds.push({
        metadata: { name: s.name, generation: 1, labels: s.labels },
        spec: { provider: { type: s.provider, region: s.region } },
        status: seedStatus({ seedName: s.name, gardenerVersion: s.version, ready: s.ready, generation: 1, now }),
      } as Seed);
      if (s.parent) {
        managedSeeds.push({ metadata: { name: s.name, namespace: 'garden' }, spec: { shoot: { name: `ms-${s.name}` } } } as ManagedSeed);
        shoots.push({ metadata: { name: `ms-${s.name}`, namespace: 'garden' }, spec: { provider: { type: s.provider }, seedName: s.parent }, status: { seedName: s.parent } } as Shoot);
      }
    }
    for (const sh of this.shoots) {
      if (!this.seeds.get(sh.seed)!.exists) continue;
      const status = shootStatus({
        seedName: sh.seed,
        gardenerVersion: sh.processing?.version ?? sh.version,
        health: sh.health,
        hibernated: sh.hibernated,
        ...(sh.userError ? { errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] } : {}),
        ...(sh.processing ? { lastOperationState: 'Processing' as const } : {}),
        now: new Date(sh.processing ? this.now : sh.reconciledAt),
      });
      status.observedGeneration = sh.observedGeneration;
      shoots.push({ metadata: { name: sh.name, namespace: sh.namespace, generation: sh.generation }, spec: { provider: { type: 'sim' }, seedName: sh.seed, hibernation: { enabled: sh.hibernated } }, status } as Shoot);
    }
    return { seeds, managedSeeds, shoots };
  }

  /** Registrations, deployments and installations as the controller would list them (extension mode). */
  extensionObjects(): ExtensionObjects | undefined {
    const ext = this.ext;
    if (!ext) return undefined;
    const iso = (t: number | undefined) => new Date(t ?? this.now).toISOString();
    const deployments = [...ext.deployments].map(([name, d]) => ({ metadata: { name, resourceVersion: String(d.rv) }, helm: d.helm }) as ControllerDeployment);
    const registrations = [...ext.registrations].map(
      ([name, r]) =>
        ({
          metadata: { name },
          spec: {
            resources: [{ kind: 'Extension', type: ext.name, primary: ext.primary }],
            deployment: { policy: 'Always', deploymentRefs: [{ name: r.deployment }], ...(r.selector ? { seedSelector: r.selector } : {}) },
          },
        }) as ControllerRegistration,
    );
    const installations = [...ext.installations.values()].map((ci) => {
      const done = ci.installed === ci.rv;
      const c = (type: string, status: 'True' | 'False') => ({ type, status, lastTransitionTime: iso(ci.installedAt), lastUpdateTime: iso(ci.installedAt) });
      const healthy = !(this.seeds.get(ci.seed)!.breaksOnUpgrade && helmVersion(ext.deployments.get(ci.deployment)?.helm) === this.newVersion);
      return {
        metadata: { name: `${ci.registration}-${ci.seed}` },
        spec: { registrationRef: { name: ci.registration }, seedRef: { name: ci.seed }, deploymentRef: { name: ci.deployment, resourceVersion: String(ci.rv) } },
        status: { conditions: [c('Valid', 'True'), c('Installed', done ? 'True' : 'False'), c('Healthy', done && healthy ? 'True' : 'False'), c('Progressing', done ? 'False' : 'True')] },
      } as ControllerInstallation;
    });
    return { deployments, registrations, installations };
  }

  /** Gardenlet objects of unmanaged seeds, their chart naming the version they deploy. */
  gardenlets(): Gardenlet[] {
    return [...this.seeds.values()]
      .filter((s) => s.exists && !s.parent)
      .map((s) => ({ metadata: { name: s.name, namespace: 'garden' }, spec: { deployment: { helm: { ociRepository: { ref: `r/gardenlet:${s.chart}` } } } } }) as Gardenlet);
  }

  observation(): Observation {
    const o = this.objects();
    return observe(o.seeds, o.managedSeeds, o.shoots, this.gardenlets(), this.extensionObjects());
  }
}
