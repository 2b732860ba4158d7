// A simulated landscape for the engine: seeds, managed seeds and shoots that react to effects the way gardenlets,
// gardener-controller-manager and shoots would, with injected faults. Pure and seeded: the same seed gives the same
// run. Used by the simulation tests; the real-API landscape simulator builds on the same status builders.
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import type { Effect } from '../engine/effects.js';
import { observe, type ExtensionObjects, type Observation } from '../engine/evaluate.js';
import { matchesSelector } from '../engine/selector.js';
import type { LabelSelector } from '../api/v1alpha1.js';
import { seedStatus, shootStatus, type ShootHealth } from './status.js';

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
  ready: boolean;
  /** Version a promotion (or revert) will bring, and when. */
  pending?: { version: string; at: number };
  /** Fault: after taking the new version the seed never becomes ready. */
  breaksOnUpgrade: boolean;
  emergencyStopped: boolean;
  released?: number;
  exists: boolean;
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

export class World {
  now: number;
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

  addSeed(s: Omit<SimSeed, 'version' | 'ready' | 'emergencyStopped' | 'exists' | 'breaksOnUpgrade'> & { breaksOnUpgrade?: boolean }): void {
    this.seeds.set(s.name, { version: this.oldVersion, ready: true, emergencyStopped: false, exists: true, breaksOnUpgrade: false, ...s });
  }

  addShoot(s: Omit<SimShoot, 'version' | 'reconciledAt'>): void {
    this.shoots.push({ version: this.oldVersion, reconciledAt: this.now - 3600_000, ...(this.ext ? { ext: this.oldVersion } : {}), ...s });
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
    for (const e of effects) {
      switch (e.type) {
        case 'promoteSeed': {
          const s = this.seeds.get(e.seed);
          if (s?.exists) s.pending = { version: e.version, at: this.now + (5 + this.random() * 15) * 60_000 };
          break;
        }
        case 'revertSeed': {
          const s = this.seeds.get(e.seed);
          if (s?.exists && e.previousVersion) s.pending = { version: e.previousVersion, at: this.now + 10 * 60_000 };
          break;
        }
        case 'emergencyStopSeed':
        case 'holdSeed': {
          const s = this.seeds.get(e.seed);
          if (s) s.emergencyStopped = true;
          break;
        }
        case 'clearEmergencyStop':
        case 'releaseSeed': {
          const s = this.seeds.get(e.seed);
          if (s) {
            s.emergencyStopped = false;
            if (e.type === 'releaseSeed') s.released = this.now;
          }
          break;
        }
        case 'updateControllerDeployment': {
          const d = this.ext?.deployments.get(e.name);
          if (d) Object.assign(d, { helm: e.helm, rv: this.rv++ });
          break;
        }
        case 'createCanaryRegistration': {
          const ext = this.ext!;
          if (!ext.deployments.has(e.deployment)) ext.deployments.set(e.deployment, { rv: this.rv++, helm: e.helm });
          if (!ext.registrations.has(e.registration)) ext.registrations.set(e.registration, { deployment: e.deployment, selector: { matchLabels: { [e.seedLabel]: 'true' } } });
          break;
        }
        case 'deleteCanaryRegistration':
          this.ext?.registrations.delete(e.registration);
          this.ext?.deployments.delete(e.deployment);
          break;
        case 'gateRegistration': {
          const r = this.ext?.registrations.get(e.registration);
          if (r) r.selector = e.on ? { matchExpressions: [{ key: e.seedLabel, operator: 'DoesNotExist' }] } : undefined;
          break;
        }
        case 'labelSeed': {
          const s = this.seeds.get(e.seed);
          if (!s) break;
          if (e.value === null) delete s.labels[e.key];
          else {
            s.labels[e.key] = e.value;
            s.released = this.now;
          }
          break;
        }
        default:
          break;
      }
    }
    if (this.ext) this.syncInstallations();
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
      if (p && p.version !== s.version && !s.pending) s.pending = { version: p.version, at: this.now + 5 * 60_000 };
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
        if (!sh.processing && wantsExt && !seed.emergencyStopped && seed.ready && this.random() < ms / 3600_000 + 0.05) {
          sh.processing = { until: this.now + 10 * 60_000, version: sh.version, ext: runs };
        }
        continue;
      }
      // a seed at a new version (or a released seed) reconciles its shoots over the next hour, unless stopped
      const wants = seed.version !== sh.version || (seed.released !== undefined && sh.reconciledAt < seed.released);
      if (!sh.processing && wants && !seed.emergencyStopped && seed.ready && this.random() < ms / 3600_000 + 0.05) {
        sh.processing = { until: this.now + 10 * 60_000, version: seed.version };
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
      shoots.push({ metadata: { name: sh.name, namespace: sh.namespace }, spec: { provider: { type: 'sim' }, seedName: sh.seed, hibernation: { enabled: sh.hibernated } }, status } as Shoot);
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

  observation(): Observation {
    const o = this.objects();
    return observe(o.seeds, o.managedSeeds, o.shoots, [], this.extensionObjects());
  }
}
