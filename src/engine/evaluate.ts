// The evaluation: everything the machine's guards read, computed purely from the machine context, the spec,
// the observed landscape and `now`. What differs by target kind (gardenlet, extension) is asked of the target's
// adapter (targets/target.ts), picked once per evaluation; waves, gates and tallies are the same for both.
import type { InputFreshness } from './freshness.js';
import type { OCIRepository } from '../api/fields.js';
import type { CanaryRolloutSpec } from '../api/v1alpha1.js';
import { durationMs } from '../util/duration.js';
import { LABEL_GARDENLET_AUTO_UPDATE, type ControllerDeployment, type ControllerInstallation, type ControllerRegistration, type Gardenlet, type ManagedSeed, type Seed, type Shoot } from '../gardener/api.js';
import { observeExtensions, type ExtensionObservation } from './extension.js';
import { evaluateGate, type GateResult } from './gate.js';
import { addVerdict, asleep, assessSeed, assessShoot, computeShootStatus, emptyTally, gatePolicy, shootKey, type SeedHealth, type Tally } from './health.js';
import type { Ctx, Evaluation, SeedState } from './machine-context.js';
import type { PreflightObservation } from './preflight.js';
import { membershipChanges, observeSeeds, observeShoot, planRollout, type ObservedSeed, type ObservedShoot } from './planner.js';
import { targetOf, type SeedView } from './targets/target.js';

export interface Observation extends PreflightObservation {
  seeds: ObservedSeed[];
  /** Gardenlet chart refs by seed (unmanaged seeds with a Gardenlet object). */
  gardenletRefs: Map<string, OCIRepository | undefined>;
  seedHealth: Map<string, SeedHealth>;
  shoots: ObservedShoot[];
  shootsBySeed: Map<string, Shoot[]>;
  /**
   * Keys of the shoots Gardener calls unhealthy, by seed, sorted: computed once per observation, so a decision does
   * not assess every shoot of the landscape again for the baselines of its current and next wave (issue 16).
   */
  unhealthyBySeed: Map<string, string[]>;
  /** Registrations, deployments and installations (extension targets). */
  extensions?: ExtensionObservation;
  /** How fresh the caches behind this observation are (freshness.ts); absent: not tracked (simulations, unit tests). */
  inputs?: InputFreshness;
}

export interface ExtensionObjects {
  registrations: readonly ControllerRegistration[];
  deployments: readonly ControllerDeployment[];
  installations: readonly ControllerInstallation[];
}

/** What an observation takes from one shoot object alone. */
export interface ShootFacts {
  observed: ObservedShoot;
  /** The seed the shoot is counted on (status, else spec). */
  seed: string | undefined;
  /** shootKey of a shoot Gardener calls unhealthy. */
  unhealthyKey?: string;
}

function shootFacts(s: Shoot): ShootFacts {
  return { observed: observeShoot(s), seed: s.status?.seedName ?? s.spec.seedName, ...(computeShootStatus(s) === 'unhealthy' ? { unhealthyKey: shootKey(s) } : {}) };
}

/**
 * Shoot facts by shoot object, kept across observations (issue 16): a controller whose caches replace an object on
 * every change, and never change one in place, builds its observation again on every change of any of 20,000
 * shoots, about once a second on a live landscape. Without the memo every build made 20,000 objects again and assessed
 * every shoot, megabytes that lived until the next build and so reached the old generation, where they grew the heap
 * by tens of MiB between full collections. With it a build allocates the arrays that hold the shoots, and the facts
 * of the shoots that changed. An entry goes with its shoot object.
 */
export type ShootFactsMemo = WeakMap<Shoot, ShootFacts>;

/**
 * Builds an observation from Gardener objects (Seeds, ManagedSeeds, Shoots of all namespaces). With `memo`, the
 * shoot objects must never be changed in place (see ShootFactsMemo).
 */
export function observe(
  seeds: readonly Seed[],
  managedSeeds: readonly ManagedSeed[],
  shoots: readonly Shoot[],
  gardenlets: readonly Gardenlet[] = [],
  extensions?: ExtensionObjects,
  memo?: ShootFactsMemo,
): Observation {
  const facts = new Array<ShootFacts>(shoots.length);
  const perSeed = new Map<string, number>();
  const gardenShoots: Shoot[] = [];
  let i = 0;
  for (const s of shoots) {
    let f = memo?.get(s);
    if (!f) {
      f = shootFacts(s);
      memo?.set(s, f);
    }
    facts[i++] = f;
    if (f.seed) perSeed.set(f.seed, (perSeed.get(f.seed) ?? 0) + 1);
    if (s.metadata.namespace === 'garden') gardenShoots.push(s);
  }
  // each seed's list allocated at its size (no growth garbage), in the order of `shoots`
  const shootsBySeed = new Map<string, Shoot[]>();
  const slots = new Map<string, { list: Shoot[]; filled: number }>();
  for (const [seed, n] of perSeed) {
    const list = new Array<Shoot>(n);
    shootsBySeed.set(seed, list);
    slots.set(seed, { list, filled: 0 });
  }
  const unhealthyBySeed = new Map<string, string[]>();
  i = 0;
  for (const s of shoots) {
    const f = facts[i++];
    const slot = f?.seed ? slots.get(f.seed) : undefined;
    if (!f?.seed || !slot) continue;
    slot.list[slot.filled++] = s;
    if (f.unhealthyKey === undefined) continue;
    let keys = unhealthyBySeed.get(f.seed);
    if (!keys) unhealthyBySeed.set(f.seed, (keys = []));
    keys.push(f.unhealthyKey);
  }
  for (const keys of unhealthyBySeed.values()) keys.sort();
  return {
    seeds: observeSeeds(seeds, managedSeeds, gardenShoots),
    gardenletRefs: new Map(gardenlets.map((g) => [g.metadata.name, g.spec.deployment?.helm?.ociRepository])),
    gardenletAutoUpdate: new Set(gardenlets.filter((g) => g.metadata.labels?.[LABEL_GARDENLET_AUTO_UPDATE] === 'true').map((g) => g.metadata.name)),
    seedHealth: new Map(seeds.map((s) => [s.metadata.name, assessSeed(s)])),
    shoots: facts.map((f) => f.observed),
    shootsBySeed,
    unhealthyBySeed,
    ...(extensions ? { extensions: observeExtensions(extensions.registrations, extensions.deployments, extensions.installations) } : {}),
  };
}

function waveParams(spec: CanaryRolloutSpec, i: number) {
  const o = spec.waves[i]?.healthGate;
  return {
    maxUnhealthyRatio: o?.maxUnhealthyRatio ?? spec.healthGate.maxUnhealthyRatio,
    minSampleSize: o?.minSampleSize ?? spec.healthGate.minSampleSize,
    confidence: spec.healthGate.confidence,
  };
}

/**
 * A wave's baseline: the shoots failing on its seeds when it starts. Only Gardener's "unhealthy" counts: gardenlet
 * turns every non-False condition Progressing after each reconcile (patchShootStatusOperationSuccess), so a
 * progressing or unknown shoot is not a failure, and one that fails later is the wave's to count.
 */
export function unhealthyOn(seeds: readonly string[], obs: Pick<Observation, 'unhealthyBySeed'>): string[] {
  const out: string[] = [];
  for (const seed of seeds) for (const k of obs.unhealthyBySeed.get(seed) ?? []) out.push(k);
  return out.sort();
}

export function evaluate(ctx: Ctx, spec: CanaryRolloutSpec, obs: Observation, now: Date): Evaluation {
  const versions: Record<string, string | undefined> = {};
  for (const [name, h] of obs.seedHealth) versions[name] = h.version;
  const refs: Record<string, OCIRepository | undefined> = Object.fromEntries(obs.gardenletRefs);
  const target = targetOf(spec);

  if (!ctx.plan) {
    const empty = {
      notReady: [],
      regressed: [],
      atRevision: [],
      nextBaseline: [],
      overall: { ...evaluateGate({ healthy: 0, unhealthy: 0 }, { maxUnhealthyRatio: spec.healthGate.maxOverallUnhealthyRatio, minSampleSize: spec.healthGate.minSampleSize }), healthy: 0, unhealthyKeys: [] },
      revertedAll: false,
      handedBack: false,
      versions,
      refs,
    };
    const planned = planRollout(spec, obs.seeds, obs.shoots, now, target.units);
    const start = target.start(spec, planned.plan, obs, { versions, refs });
    if ('blocked' in start) return { blocked: start.blocked.message, blockedReason: start.blocked.reason, ...empty };
    return { plan: planned, ...(start.extension ? { extension: start.extension } : {}), ...empty };
  }

  const { vanished: allVanished } = membershipChanges(ctx.plan, spec, obs.seeds);
  const vanishedSet = new Set(allVanished);
  const policy = gatePolicy(spec.healthGate, target.kind);
  const view = target.view(spec, ctx, obs, now);

  // tally the promoted seeds of waves 0..upTo
  const accepted = new Set(ctx.accepted);
  const tallySeeds = (names: readonly string[], baseline: ReadonlySet<string>, unhealthyKeys: string[]): Tally => {
    const t = emptyTally();
    for (const name of names) {
      const s = ctx.seeds[name];
      if (!s || !ctx.seeds[s.root]?.promotedAt) continue;
      const exposure = view.exposure(name);
      for (const sh of obs.shootsBySeed.get(name) ?? []) {
        if (!exposure) {
          t.shoots++;
          continue;
        }
        const v = assessShoot(sh, exposure, policy, { baseline, accepted });
        addVerdict(t, v);
        if (v.kind === 'counted' && !v.healthy) unhealthyKeys.push(shootKey(sh));
      }
    }
    return t;
  };

  const allBaselines = new Set<string>();
  for (const w of ctx.waves) for (const k of w.baseline) allBaselines.add(k);
  const overallKeys: string[] = [];
  const startedSeeds = Object.entries(ctx.seeds)
    .filter(([n, s]) => s.wave <= ctx.current && !vanishedSet.has(n))
    .map(([n]) => n)
    .sort();
  const overallTally = tallySeeds(startedSeeds, allBaselines, overallKeys);
  const overallGate = evaluateGate(overallTally, { maxUnhealthyRatio: spec.healthGate.maxOverallUnhealthyRatio, minSampleSize: spec.healthGate.minSampleSize });

  const i = ctx.current;
  const seedsOf = (j: number): [string, SeedState][] => Object.entries(ctx.seeds).filter(([, s]) => s.wave === j).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const w = ctx.waves[i];
  const sw = spec.waves[i];
  let wave: Evaluation['wave'];
  if (i < ctx.plan.waves.length && w && sw) {
    const all = seedsOf(i);
    const vanished = all.filter(([n]) => vanishedSet.has(n)).map(([n]) => n);
    const activeSeeds = all.filter(([n]) => !vanishedSet.has(n));
    const active = activeSeeds.map(([n]) => n);
    const roots = [...new Set(activeSeeds.map(([, s]) => s.root))].sort();
    const rootReady = (r: string) => ctx.seeds[r]?.readyAt !== undefined || view.ready(r);
    const inFlight = roots.filter((r) => ctx.seeds[r]?.promotedAt && !rootReady(r)).length;
    const unpromoted = roots.filter((r) => !ctx.seeds[r]?.promotedAt && view.releasable(r));
    const limit = sw.maxConcurrentSeeds ?? Number.POSITIVE_INFINITY;
    const toPromote = unpromoted.slice(0, Math.max(0, Math.min(unpromoted.length, limit - inFlight)));
    const promoted = (s: SeedState) => ctx.seeds[s.root]?.promotedAt !== undefined;
    const newlyReady = activeSeeds.filter(([n, s]) => promoted(s) && !s.readyAt && view.ready(n)).map(([n]) => n);
    const allReady = activeSeeds.every(([n, s]) => promoted(s) && (s.readyAt !== undefined || view.ready(n)));
    const unhealthyKeys: string[] = [];
    const tally = tallySeeds(active, new Set(w.baseline), unhealthyKeys);
    const params = waveParams(spec, i);
    // a wave the plan left empty, or whose seeds all vanished, exposes nothing and has nothing to wait for: it passes
    // at once and skips its bake (the reason says why), instead of sampling until its deadline
    const empty = active.length === 0;
    const gate: GateResult = empty
      ? { sample: 0, unhealthyRatio: undefined, budget: 0, outcome: 'pass', reason: `empty wave: no seeds to promote (${all.length} planned, ${vanished.length} vanished), skipped` }
      : evaluateGate(tally, params);
    // shoots the wave could ever count (all its seeds, promoted or not, minus the ones excluded up front)
    let countable = 0;
    for (const n of active) {
      for (const sh of obs.shootsBySeed.get(n) ?? []) {
        const hibernated = policy.exclude.hibernated && asleep(sh);
        if (!sh.metadata.deletionTimestamp && !hibernated) countable++;
      }
    }
    if (gate.outcome === 'inconclusive' && countable < params.minSampleSize) {
      gate.reason += ` (the wave has only ${countable} countable shoots: lower its minSampleSize or the deadline will stop it)`;
    }
    const nowMs = now.getTime();
    wave = {
      index: i,
      gate,
      tally,
      toPromote,
      newlyReady,
      vanished,
      allReady,
      unhealthyKeys: unhealthyKeys.sort(),
      bakeDone: w.bakeUntil !== undefined && (empty || nowMs >= Date.parse(w.bakeUntil)),
      empty,
      // a wave misses its deadline when it is not both passing and ready by then: sampling without end, baking
      // while re-sampling, and waiting for a seed that never becomes ready all stop there
      deadlinePassed: w.deadline !== undefined && nowMs > Date.parse(w.deadline) && !(gate.outcome === 'pass' && allReady),
      baseline: unhealthyOn(active, obs),
    };
  }
  const { notReady, regressed } = seedRegressions(ctx, spec, now, vanishedSet, view);
  const atRevision = Object.keys(ctx.seeds).filter((n) => !vanishedSet.has(n) && view.atRevision(n));

  const next = i + 1 < ctx.plan.waves.length ? seedsOf(i + 1).filter(([n]) => !vanishedSet.has(n)).map(([n]) => n) : [];
  const holdExceeded = view.holdExceeded(now, vanishedSet);

  return {
    ...(wave ? { wave } : {}),
    notReady,
    regressed,
    atRevision,
    nextBaseline: unhealthyOn(next, obs),
    overall: { ...overallGate, healthy: overallTally.healthy, unhealthyKeys: overallKeys.sort() },
    revertedAll: view.revertedAll(vanishedSet),
    handedBack: view.handedBack(),
    ...(holdExceeded ? { holdExceeded } : {}),
    versions,
    refs,
  };
}

/**
 * Seeds that fail the rollout (the target's rule, SeedView.failing: promoted seeds that were ready at the target and
 * are not any more, released seeds whose installation fails at the new revision) in every started wave, finished ones
 * too: a regression there is the same evidence; where the new version is live before release (a reconcile gate), in
 * every wave. A seed must stay failing for the grace period (healthGate.seedReadinessGracePeriod, counted from the
 * first look that saw it failing, persisted as notReadySince) before it halts: a readiness blip does not.
 * An installation rolling out again is not a failure (it counts once done).
 */
function seedRegressions(ctx: Ctx, spec: CanaryRolloutSpec, now: Date, vanished: ReadonlySet<string>, view: SeedView): { notReady: string[]; regressed: string[] } {
  const graceMs = durationMs(spec.healthGate.seedReadinessGracePeriod);
  const failing = Object.entries(ctx.seeds)
    .filter(([n, s]) => !vanished.has(n) && (s.wave <= ctx.current || view.liveBeforeRelease) && view.failing(n))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const notReady = failing.map(([n]) => n);
  const regressed = failing.filter(([, s]) => now.getTime() - Date.parse(s.notReadySince ?? now.toISOString()) >= graceMs).map(([n]) => n);
  return { notReady, regressed };
}
