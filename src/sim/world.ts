// A simulated landscape for the engine: seeds, managed seeds and shoots that react to effects the way gardenlets,
// gardener-controller-manager and shoots would, with injected faults. Pure and seeded: the same seed gives the same
// run. Used by the simulation tests; the real-API landscape simulator builds on the same status builders.
import type { ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import type { Effect } from '../engine/effects.js';
import { observe, type Observation } from '../engine/evaluate.js';
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
  processing?: { until: number; version: string };
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
    this.shoots.push({ version: this.oldVersion, reconciledAt: this.now - 3600_000, ...s });
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
        default:
          break;
      }
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
      if (p && p.version !== s.version && !s.pending) s.pending = { version: p.version, at: this.now + 5 * 60_000 };
    }
    for (const sh of this.shoots) {
      const seed = this.seeds.get(sh.seed)!;
      if (!seed.exists) continue;
      if (sh.processing && this.now >= sh.processing.until) {
        sh.version = sh.processing.version;
        sh.reconciledAt = this.now;
        delete sh.processing;
        const bad = this.faults.badSeeds.has(sh.seed) && sh.version === this.newVersion ? this.faults.badSeedFailureRate : 0;
        const fails = !sh.hibernated && this.random() < Math.max(bad, this.faults.noiseRate);
        sh.health = fails ? 'unhealthy' : 'healthy';
        sh.userError = fails && this.random() < this.faults.userErrorShare;
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

  observation(): Observation {
    const o = this.objects();
    return observe(o.seeds, o.managedSeeds, o.shoots);
  }
}
