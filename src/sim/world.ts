// A simulated landscape for the engine: seeds, managed seeds and shoots that react to effects the way gardenlets,
// gardener-controller-manager and shoots would, with injected faults. Pure and seeded: the same seed gives the same
// run. Used by the simulation tests; the real-API landscape simulator builds on the same status builders.
// Writes behave like the API server's: writing the value an object already has changes nothing, so repeated
// convergence is free, and every real change is counted (`changes`) for the invariants.
// This module holds the world's state and how it moves on in time; world-effects.ts applies the rollout's writes to
// it, world-objects.ts lists it as the controller would read it.
import type { Gardenlet, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import type { Effect } from '../engine/effects.js';
import { observe, type ExtensionObjects, type Observation } from '../engine/evaluate.js';
import { matchesSelector } from '../engine/selector.js';
import type { LabelSelector } from '../api/fields.js';
import { helmVersion } from './landscape-objects.js';
import type { ShootHealth } from './status.js';
import { applyEffect } from './world-effects.js';
import { listedExtensionObjects, listedGardenlets, listedObjects } from './world-objects.js';

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

  /** The next resourceVersion of a simulated ControllerDeployment. */
  nextRevision(): number {
    return this.rv++;
  }

  /**
   * Extension mode: the rollout changes ControllerDeployment `name` (registration `name`, installed on every
   * seed); oldVersion/newVersion are extension versions then. Installations exist and run oldVersion already.
   */
  enableExtension(name: string, primary: boolean): void {
    const ext: SimExtension = {
      name,
      primary,
      deployments: new Map([[name, { rv: this.nextRevision(), helm: { ociRepository: { ref: `r/${name}:${this.oldVersion}` } } }]]),
      registrations: new Map([[name, { deployment: name }]]),
      installations: new Map(),
    };
    this.ext = ext;
    this.syncInstallations(ext);
    for (const ci of ext.installations.values()) ci.installed = ci.rv;
    for (const sh of this.shoots) sh.ext = this.oldVersion;
  }

  /** gardener-controller-manager: one installation per (registration, selected seed), following the deployment. */
  private syncInstallations(ext: SimExtension): void {
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
  private extVersionOn(ext: SimExtension, seed: string): string | undefined {
    for (const ci of ext.installations.values()) {
      if (ci.seed !== seed || ci.installed === undefined) continue;
      return helmVersion(ext.deployments.get(ci.deployment)?.helm);
    }
    return undefined;
  }

  apply(effects: readonly Effect[]): void {
    for (const e of effects) applyEffect(this, e);
    if (this.ext) this.syncInstallations(this.ext);
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
    const ext = this.ext;
    if (ext) {
      this.syncInstallations(ext);
      for (const ci of ext.installations.values()) {
        if (ci.pendingAt !== undefined && this.now >= ci.pendingAt) {
          Object.assign(ci, { installed: ci.rv, installedAt: this.now });
          delete ci.pendingAt;
        }
      }
    }
    // what each seed's installation runs: the installations do not change while the shoots reconcile below
    const extOn = new Map<string, string | undefined>();
    const extVersionOn = (e: SimExtension, seed: string) => {
      if (!extOn.has(seed)) extOn.set(seed, this.extVersionOn(e, seed));
      return extOn.get(seed);
    };
    for (const sh of this.shoots) {
      const seed = this.seeds.get(sh.seed);
      if (!seed?.exists) continue;
      // a requested reconcile (generation ahead of observedGeneration) starts when the seed lets it
      const requested = sh.generation > sh.observedGeneration;
      if (sh.processing && this.now >= sh.processing.until) {
        // the reconcile finishes with what it started with: the extension version in extension mode, else gardenlet's
        const ran = ext ? (sh.ext = sh.processing.ext) : (sh.version = sh.processing.version);
        sh.reconciledAt = this.now;
        delete sh.processing;
        const bad = this.faults.badSeeds.has(sh.seed) && ran === this.newVersion ? this.faults.badSeedFailureRate : 0;
        const fails = !sh.hibernated && this.random() < Math.max(bad, this.faults.noiseRate);
        sh.health = fails ? 'unhealthy' : 'healthy';
        if (ext) continue; // in extension mode: no user-error draw, and no new reconcile in the same step
        sh.userError = fails && this.random() < this.faults.userErrorShare;
      }
      if (ext) {
        // an installation change (or a release) reaches a shoot with its next reconcile, unless the seed is stopped
        const runs = extVersionOn(ext, sh.seed);
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
    return listedObjects(this);
  }

  /** Registrations, deployments and installations as the controller would list them (extension mode). */
  extensionObjects(): ExtensionObjects | undefined {
    return listedExtensionObjects(this);
  }

  /** Gardenlet objects of unmanaged seeds, their chart naming the version they deploy. */
  gardenlets(): Gardenlet[] {
    return listedGardenlets(this);
  }

  observation(): Observation {
    const o = this.objects();
    return observe(o.seeds, o.managedSeeds, o.shoots, this.gardenlets(), this.extensionObjects());
  }
}
