// The evaluation: everything the machine's guards read, computed purely from the machine context, the spec,
// the observed landscape and `now`.
import type { InputFreshness } from './freshness.js';
import type { OCIRepository } from '../api/fields.js';
import { type CanaryRolloutSpec } from '../api/v1alpha1.js';
import { durationMs, formatDuration } from '../util/duration.js';
import { LABEL_GARDENLET_AUTO_UPDATE, type ControllerDeployment, type ControllerInstallation, type ControllerRegistration, type Gardenlet, type ManagedSeed, type Seed, type Shoot } from '../gardener/api.js';
import { statusBudgetProblem } from './bounds.js';
import { chooseStrategy, exposedSince, handedBack, observeExtensions, reconcileGateNotChosen, reverted, seedRun, ungatedSeeds, type ExtensionObservation, type SeedRun } from './extension.js';
import { evaluateGate, type GateResult } from './gate.js';
import { addVerdict, asleep, assessSeed, assessShoot, computeShootStatus, emptyTally, gatePolicy, shootKey, type Exposure, type SeedHealth, type Tally } from './health.js';
import type { Ctx, Evaluation } from './machine.js';
import { gardenletPreflight, type Blocker, type PreflightObservation } from './preflight.js';
import { membershipChanges, observeSeeds, observeShoot, planRollout, type ObservedSeed, type ObservedShoot } from './planner.js';

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
  for (let i = 0; i < shoots.length; i++) {
    const s = shoots[i]!;
    let f = memo?.get(s);
    if (!f) {
      f = shootFacts(s);
      memo?.set(s, f);
    }
    facts[i] = f;
    if (f.seed) perSeed.set(f.seed, (perSeed.get(f.seed) ?? 0) + 1);
    if (s.metadata.namespace === 'garden') gardenShoots.push(s);
  }
  // each seed's list allocated at its size (no growth garbage), in the order of `shoots`
  const shootsBySeed = new Map<string, Shoot[]>();
  const filled = new Map<string, number>();
  for (const [seed, n] of perSeed) {
    shootsBySeed.set(seed, new Array<Shoot>(n));
    filled.set(seed, 0);
  }
  const unhealthyBySeed = new Map<string, string[]>();
  for (let i = 0; i < shoots.length; i++) {
    const f = facts[i]!;
    if (!f.seed) continue;
    const at = filled.get(f.seed)!;
    shootsBySeed.get(f.seed)![at] = shoots[i]!;
    filled.set(f.seed, at + 1);
    if (f.unhealthyKey === undefined) continue;
    let keys = unhealthyBySeed.get(f.seed);
    if (!keys) unhealthyBySeed.set(f.seed, (keys = []));
    keys.push(f.unhealthyKey);
  }
  for (const keys of unhealthyBySeed.values()) keys.sort();
  return {
    seeds: observeSeeds(seeds, managedSeeds, gardenShoots),
    gardenletRefs: new Map(gardenlets.map((g) => [g.metadata.name, g.spec.deployment?.helm?.ociRepository as OCIRepository | undefined])),
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
  const gardenlet = spec.target.gardenlet;

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
    const planned = planRollout(spec, obs.seeds, obs.shoots, now);
    const facts = { versions, refs };
    const blocked = (b: Blocker) => ({ blocked: b.message, blockedReason: b.reason, ...empty });
    if (!spec.target.extension) {
      const preflight = gardenletPreflight(spec, planned.plan, obs);
      if (preflight) return blocked(preflight);
      const tooLarge = statusBudgetProblem(planned.plan, 'gardenlet', facts);
      return tooLarge ? blocked({ reason: 'StatusTooLarge', message: tooLarge }) : { plan: planned, ...empty };
    }
    // extension targets: the strategy must be possible before anything is planned or touched
    const choice = chooseStrategy(spec, obs.extensions);
    if (!choice.ok) return blocked({ reason: choice.code, message: choice.reason });
    if (choice.status.strategy === 'ReconcileGate' && spec.target.extension.strategy === 'Auto') {
      return blocked({ reason: 'ReconcileGateNotChosen', message: reconcileGateNotChosen(spec, choice.status.reason, planned.plan) });
    }
    if (choice.status.strategy === 'ReconcileGate') {
      const inPlan = new Set(planned.plan.waves.flatMap((w) => w.seeds.map((x) => x.name)));
      const ungated = ungatedSeeds(choice.status, obs.extensions!, inPlan);
      if (ungated.length) {
        return blocked({
          reason: 'SeedsOutsideTheGate',
          message: `${ungated.length} seeds run the extension but are in no wave (out of scope or unplanned), so the reconcile gate could not hold them when the ControllerDeployment changes: ${ungated.slice(0, 5).join(', ')}${ungated.length > 5 ? ', ...' : ''}; widen the scope or the waves`,
        });
      }
    }
    const tooLarge = statusBudgetProblem(planned.plan, 'extension', facts, choice.status);
    if (tooLarge) return blocked({ reason: 'StatusTooLarge', message: tooLarge });
    return { plan: planned, extension: choice.status, ...empty };
  }

  const { vanished: allVanished } = membershipChanges(ctx.plan, spec, obs.seeds);
  const vanishedSet = new Set(allVanished);
  const ext = ctx.extension;
  const policy = gatePolicy(spec.healthGate, gardenlet ? 'gardenlet' : 'extension');
  const carePeriodMs = durationMs(spec.target.extension?.installationCarePeriod ?? '30s');
  const runs = new Map<string, SeedRun>();
  const runOf = (name: string): SeedRun => {
    let r = runs.get(name);
    if (!r) {
      const settle = { now, carePeriodMs, revisionSince: ctx.seeds[name]?.revisionSince, contentSince: ctx.waves[0]?.startedAt };
      runs.set(name, (r = seedRun(spec, ext!, obs.extensions, name, settle)));
    }
    return r;
  };
  const readyAtTarget = (name: string): boolean => {
    const h = obs.seedHealth.get(name);
    if (!h || !h.ready) return false;
    if (gardenlet) return h.version === gardenlet.version;
    return ctx.seeds[name]?.promotedAt !== undefined && !!ext && runOf(name).ready;
  };
  const exposureOf = (name: string): Exposure | undefined => {
    if (gardenlet) return { kind: 'gardenlet', version: gardenlet.version };
    // a shoot runs the new extension version once reconciled after its seed was released and the new revision installed
    const releasedAt = ctx.seeds[name]?.promotedAt;
    if (!releasedAt || !ext) return undefined;
    const run = runOf(name);
    if (!run.ready) return undefined;
    return { kind: 'extension', releasedAt: exposedSince(releasedAt, run) };
  };

  // tally the promoted seeds of waves 0..upTo
  const accepted = new Set(ctx.accepted);
  const tallySeeds = (names: readonly string[], baseline: ReadonlySet<string>, unhealthyKeys: string[]): Tally => {
    const t = emptyTally();
    for (const name of names) {
      const s = ctx.seeds[name];
      if (!s || !ctx.seeds[s.root]?.promotedAt) continue;
      const exposure = exposureOf(name);
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
  const seedsOf = (j: number) =>
    Object.entries(ctx.seeds)
      .filter(([, s]) => s.wave === j)
      .map(([n]) => n)
      .sort();
  let wave: Evaluation['wave'];
  if (i < ctx.plan.waves.length && i < spec.waves.length) {
    const w = ctx.waves[i]!;
    const all = seedsOf(i);
    const vanished = all.filter((n) => vanishedSet.has(n));
    const active = all.filter((n) => !vanishedSet.has(n));
    const roots = [...new Set(active.map((n) => ctx.seeds[n]!.root))].sort();
    const rootReady = (r: string) => ctx.seeds[r]?.readyAt !== undefined || readyAtTarget(r);
    const inFlight = roots.filter((r) => ctx.seeds[r]?.promotedAt && !rootReady(r)).length;
    // a reconcile gate releases a seed only once its installations run the new revision: its shoots then reconcile
    // onto the new version right away, and a stale healthy condition cannot pass for the new revision later
    const gated = ext?.strategy === 'ReconcileGate';
    const unpromoted = roots.filter((r) => !ctx.seeds[r]?.promotedAt && (!gated || runOf(r).ready));
    const limit = spec.waves[i]!.maxConcurrentSeeds ?? Number.POSITIVE_INFINITY;
    const toPromote = unpromoted.slice(0, Math.max(0, Math.min(unpromoted.length, limit - inFlight)));
    const promoted = (n: string) => ctx.seeds[ctx.seeds[n]!.root]?.promotedAt !== undefined;
    const newlyReady = active.filter((n) => promoted(n) && !ctx.seeds[n]!.readyAt && readyAtTarget(n));
    const allReady = active.every((n) => promoted(n) && (ctx.seeds[n]!.readyAt !== undefined || readyAtTarget(n)));
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
  const { notReady, regressed } = seedRegressions(ctx, spec, obs, now, vanishedSet, readyAtTarget, runOf);
  const atRevision = ext ? Object.keys(ctx.seeds).filter((n) => !vanishedSet.has(n) && runOf(n).atRevision) : [];

  const next = i + 1 < ctx.plan.waves.length ? seedsOf(i + 1).filter((n) => !vanishedSet.has(n)) : [];

  const promotedRoots = Object.entries(ctx.seeds).filter(([n, s]) => s.promotedAt && s.root === n);
  const revertedAll = ext
    ? reverted(spec, ext, obs.extensions)
    : promotedRoots.every(([n, s]) => vanishedSet.has(n) || obs.seedHealth.get(n)?.version === s.previousVersion);

  return {
    ...(wave ? { wave } : {}),
    notReady,
    regressed,
    atRevision,
    nextBaseline: unhealthyOn(next, obs),
    overall: { ...overallGate, healthy: overallTally.healthy, unhealthyKeys: overallKeys.sort() },
    revertedAll,
    handedBack: ext ? handedBack(spec, ext, obs.extensions) : true,
    ...maxHoldExceeded(ctx, spec, now, vanishedSet),
    versions,
    refs,
  };
}

/**
 * ReconcileGate with spec.target.extension.maxHold: the gate has held seeds that are not released yet for longer than
 * that, counted from the rollout's start or its last resume or retry (holdSince).
 */
function maxHoldExceeded(ctx: Ctx, spec: CanaryRolloutSpec, now: Date, vanished: ReadonlySet<string>): Pick<Evaluation, 'holdExceeded'> {
  const maxHold = spec.target.extension?.maxHold;
  const since = ctx.holdSince ?? ctx.waves[0]?.startedAt;
  if (!maxHold || ctx.extension?.strategy !== 'ReconcileGate' || !since) return {};
  const held = Object.entries(ctx.seeds).filter(([n, s]) => !s.promotedAt && !vanished.has(n)).length;
  const heldMs = now.getTime() - Date.parse(since);
  if (!held || heldMs < durationMs(maxHold)) return {};
  return { holdExceeded: `the reconcile gate has held ${held} seeds not released yet for ${formatDuration(heldMs)} since ${since}, longer than spec.target.extension.maxHold ${maxHold}: resume to hold them for another ${maxHold}, or abort` };
}

/**
 * Seeds that fail the rollout: promoted seeds that were ready at the target and are not any more, released seeds
 * whose installation fails at the new revision, and (a reconcile gate has the new version live on every seed) any
 * seed whose installation fails at it. Every started wave counts, finished ones too: a regression there is the
 * same evidence. A seed must stay failing for the grace period (healthGate.seedReadinessGracePeriod, counted from
 * the first look that saw it failing, persisted as notReadySince) before it halts: a readiness blip does not.
 * An installation rolling out again is not a failure (it counts once done).
 */
function seedRegressions(
  ctx: Ctx,
  spec: CanaryRolloutSpec,
  obs: Observation,
  now: Date,
  vanished: ReadonlySet<string>,
  readyAtTarget: (n: string) => boolean,
  runOf: (n: string) => SeedRun,
): { notReady: string[]; regressed: string[] } {
  const gardenlet = spec.target.gardenlet !== undefined;
  const gated = ctx.extension?.strategy === 'ReconcileGate';
  const graceMs = durationMs(spec.healthGate.seedReadinessGracePeriod);
  const failing = (n: string): boolean => {
    const s = ctx.seeds[n]!;
    const released = ctx.seeds[s.root]?.promotedAt !== undefined;
    if (s.readyAt) return !readyAtTarget(n) && (gardenlet || !obs.seedHealth.get(n)?.ready || runOf(n).failed === true);
    if (gardenlet) return false; // not ready yet: the deadline covers it
    return (released || gated) && runOf(n).failed === true;
  };
  const notReady = Object.keys(ctx.seeds)
    .filter((n) => !vanished.has(n) && (ctx.seeds[n]!.wave <= ctx.current || gated) && failing(n))
    .sort();
  const regressed = notReady.filter((n) => now.getTime() - Date.parse(ctx.seeds[n]!.notReadySince ?? now.toISOString()) >= graceMs);
  return { notReady, regressed };
}
