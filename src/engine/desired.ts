// What a rollout owes the garden right now, as a pure function of its spec, its persisted status and the observed
// landscape. The controller converges the garden to it on every reconcile, whatever happened before: an effect that
// failed, was dropped, or was cut short by a crash is simply applied again next time. Transitions record decisions
// (status.machine, history); this module is the only place that turns them into what the garden must look like.
//
// Each item is tri-state: a value the rollout asserts, an absence it asserts (null / false), or nothing at all
// (undefined: not the rollout's to touch). The table of what is owed per phase is in README.md ("Convergence").
import type { OCIRepository } from '../api/fields.js';
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../api/v1alpha1.js';
import type { Shoot } from '../gardener/api.js';
import type { Effect, ShootOperation } from './effects.js';
import type { Observation } from './evaluate.js';
import { sameHelm } from './extension.js';
import { isExposed, type Exposure } from './health.js';
import { restoreContext } from './persisted.js';
import { confinedToMaintenance, inScope } from './planner.js';
import type { Ctx } from './machine-context.js';
import { targetOf, type TargetAdapter } from './targets/target.js';

export interface SeedWant {
  /** Membership marks (annotations and labels): asserted, removed (null), or not ours to touch (undefined). */
  marks?: { wave: string; canary: boolean } | null;
  /** Our name in the seed's emergency-stop holders: held (true), not held by us (false), or untouched. */
  stop?: boolean;
  /** gardenlet targets, unit roots: the chart the seed's Gardenlet must carry; `replaces`: write only over that. */
  chart?: { ociRepository: OCIRepository; version: string; replaces?: OCIRepository; previousVersion?: string };
  /** SeedSelector: the release label's value on the Seed and in its seedConfig (null: absent). */
  releaseLabel?: string | null;
}

export interface ShootRef {
  namespace: string;
  name: string;
  /** gardener.cloud/operation to write: reconcile, or retry for a Failed shoot. */
  operation: ShootOperation;
}

export interface DesiredGarden {
  seeds: Record<string, SeedWant>;
  /** The ControllerDeployment's helm content; `replaces`: write only over that content (a revert). */
  deployment?: { name: string; helm: Record<string, unknown>; replaces?: Record<string, unknown> };
  /** SeedSelector: the temporary registration and deployment exist (true) or are gone (false). */
  temporary?: { present: boolean; registration: string; deployment: string; from: string; helm: Record<string, unknown>; seedLabel: string };
  /** SeedSelector: the original registration keeps off seeds carrying the release label (on) or not (off). */
  registrationGate?: { registration: string; seedLabel: string; on: boolean };
  /** Shoots that still owe a reconcile (or retry) request, oldest first; requests pending at Gardener already are not owed. */
  reconciles: { owed: ShootRef[]; pending: number; maxPerMinute: number };
}

const IN_FLIGHT = new Set(['Progressing', 'Paused', 'Halted', 'Failed']);

function gateStarted(ctx: Ctx): boolean {
  return ctx.waves[0]?.startedAt !== undefined;
}

/** Everything the rollout owns in the garden for this persisted status (nothing before it starts, or in a dry run). */
export function desiredGarden(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined, obs: Observation | undefined): DesiredGarden {
  const out: DesiredGarden = { seeds: {}, reconciles: { owed: [], pending: 0, maxPerMinute: spec.shootReconciliation.maxPerMinute } };
  const restored = restoreContext(spec, status);
  if (!status || !restored || !gateStarted(restored.ctx)) return out;
  const { ctx, value } = restored;
  const target = targetOf(spec);
  const phase = status.phase ?? 'Pending';
  const completing = value === 'completing';
  const seeds = Object.entries(ctx.seeds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const live = seeds.filter(([, s]) => !s.vanished);
  const haltStops = new Set(ctx.haltStops ?? []);
  const want = (n: string): SeedWant => (out.seeds[n] ??= {});

  const gated = target.holdsUnreleased(ctx);
  // an aborted rollout (Freeze) keeps what protects: the halt's stops and the gate's holds, until it is deleted
  const frozenStops = phase === 'Aborted' && live.some(([n, s]) => haltStops.has(n) || (gated && !s.promotedAt));
  const holding = IN_FLIGHT.has(phase) || completing || phase === 'RollingBack' || frozenStops;
  // marks: while the rollout holds anything; afterwards it removes its own
  for (const [n, s] of live) want(n).marks = holding ? { wave: ctx.waves[s.wave]?.name ?? String(s.wave), canary: s.wave === 0 } : null;
  for (const [n, s] of seeds) if (s.vanished && !holding) want(n).marks = null;

  // emergency stops: a halt's (latched), and a reconcile gate's on every seed not released yet
  for (const [n, s] of seeds) {
    if (!holding) want(n).stop = false;
    else if (s.vanished) continue;
    else want(n).stop = haltStops.has(n) || (gated && !s.promotedAt);
  }

  // a reconcile gate: the new content serves every seed, so a seed that joins the scope after planning runs it at
  // once (gardener-controller-manager installs what a new seed needs, pkg/controllermanager/controller/
  // controllerregistration/controllerinstallation). It is held like an unreleased seed while the rollout holds anything.
  if (gated && obs) {
    for (const s of obs.seeds) if (!ctx.seeds[s.name] && inScope(s, spec)) want(s.name).stop = holding;
  }

  // the target's own objects: gardenlet charts, or the extension's deployment, temporary registration and labels
  target.desire(spec, { ctx, phase, inFlight: IN_FLIGHT.has(phase), completing, live: live.map(([n]) => n) }, out);
  if (obs) out.reconciles = owedReconciles(spec, ctx, phase, completing, obs, target);
  return out;
}

const FINISHED = new Set(['Succeeded', 'Error', 'Failed']);
/** Operations a `retry` re-runs that run the version under test (a failed Migrate or Delete is not ours to retry). */
const RETRIED = new Set(['Create', 'Reconcile', 'Restore']);

/**
 * A request is pending at Gardener: gardener-apiserver turned an operation annotation into a generation bump, or
 * an annotation is still there. One exception: `reconcile` on a Failed shoot is never acted on (gardener-apiserver
 * neither bumps the generation nor removes it while lastOperation is Failed, mustIncreaseGeneration in
 * pkg/apiserver/registry/core/shoot/strategy.go; gardenlet skips a Failed shoot, infos.go), so it pends nothing and
 * a retry may replace it.
 */
function requestPending(sh: Shoot): boolean {
  if ((sh.status?.observedGeneration ?? 0) < (sh.metadata.generation ?? 0)) return true;
  const op = sh.metadata.annotations?.['gardener.cloud/operation'];
  return op !== undefined && !(op === 'reconcile' && sh.status?.lastOperation?.state === 'Failed');
}

/**
 * Shoots that still owe a request, derived from what Gardener reports, so nothing is lost on a restart:
 * - in flight (spec.shootReconciliation.trigger): shoots on seeds that run the new version (gardenlet: ready at the
 *   target; extension: released and installed) whose last finished Create/Reconcile did not run it;
 * - after RevertAll of an extension: shoots on released seeds that last reconciled before the revert landed.
 * The request is `reconcile`, or `retry` for a shoot whose last operation Failed: gardener-apiserver bumps the
 * generation for `retry` only on a Failed shoot and for `reconcile` only on one that is not (mustIncreaseGeneration
 * in gardener/gardener pkg/apiserver/registry/core/shoot/strategy.go), and gardenlet does not reconcile a Failed shoot
 * observed at its generation (IsShootFailedAndUpToDate in pkg/utils/gardener/shoot.go, shouldReconcileNow in
 * pkg/gardenlet/controller/shoot/shoot/helper/infos.go). A Failed shoot that already ran the new version is exposed:
 * its failure is the gate's evidence and is not retried.
 * Left out: shoots being deleted or hibernated, shoots whose last operation is still running, any shoot with a
 * request pending already, and, in flight unless spec.shootReconciliation.includeConfinedToMaintenance, shoots whose
 * owner confines updates to the maintenance window (a forced reconcile bumps the generation, and gardenlet reconciles
 * a shoot with a newer generation at once whatever the window, infos.go; left alone, gardenlet reconciles it in its
 * window, planner.ts confinedToMaintenance). A revert is not held back for them: it takes back what we exposed.
 */
function owedReconciles(spec: CanaryRolloutSpec, ctx: Ctx, phase: string, completing: boolean, obs: Observation, target: TargetAdapter): DesiredGarden['reconciles'] {
  const { maxPerMinute, includeConfinedToMaintenance } = spec.shootReconciliation;
  const owed: (ShootRef & { since: string })[] = [];
  let pending = 0;
  const inFlight = phase === 'Progressing' && !completing && spec.shootReconciliation.trigger;
  const revertedAt = phase === 'RolledBack' && ctx.extension !== undefined ? ctx.revertedAt : undefined;
  const afterRevert = revertedAt !== undefined;
  if (!inFlight && revertedAt === undefined) return { owed: [], pending: 0, maxPerMinute };
  const skipConfined = inFlight && !includeConfinedToMaintenance;
  // readiness is established (readyAt): what the seed runs is not settled again
  const view = target.view(spec, ctx, obs);
  for (const [n, s] of Object.entries(ctx.seeds).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (s.vanished || !ctx.seeds[s.root]?.promotedAt || (!afterRevert && !s.readyAt)) continue;
    // after a revert: shoots that last reconciled before it landed; in flight: the target's exposure of the seed
    const exposure: Exposure | undefined = revertedAt !== undefined ? { kind: 'extension', releasedAt: revertedAt } : view.exposure(n);
    if (!exposure) continue;
    for (const sh of obs.shootsBySeed.get(n) ?? []) {
      if (sh.metadata.deletionTimestamp || sh.spec.hibernation?.enabled || sh.status?.hibernated) continue;
      if (requestPending(sh)) {
        pending++;
        continue;
      }
      const op = sh.status?.lastOperation;
      if (!op || !FINISHED.has(op.state)) continue;
      const failed = op.state === 'Failed';
      if (failed && !RETRIED.has(op.type)) continue;
      if (isExposed(sh, exposure)) continue;
      if (skipConfined && confinedToMaintenance(sh)) continue;
      owed.push({ namespace: sh.metadata.namespace ?? '', name: sh.metadata.name, operation: failed ? 'retry' : 'reconcile', since: op.lastUpdateTime ?? '' });
    }
  }
  owed.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.namespace + a.name < b.namespace + b.name ? -1 : 1));
  return { owed: owed.map(({ namespace, name, operation }) => ({ namespace, name, operation })), pending, maxPerMinute };
}

/**
 * The desired garden as the executor's idempotent writes, in the order that keeps every safety promise when the
 * list is cut short at any point: protection first (stops on, the gate's objects, reverts), then what exposes seeds
 * (content, charts, release labels, stops off), then clean-up and bookkeeping. The executor skips what is already so.
 */
export function convergeEffects(d: DesiredGarden): Effect[] {
  const seeds = Object.entries(d.seeds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Effect[] = [];
  for (const [n, w] of seeds) if (w.stop === true) out.push({ type: 'emergencyStopSeed', seed: n });
  if (d.temporary?.present) {
    const t = d.temporary;
    out.push({ type: 'createCanaryRegistration', registration: t.registration, deployment: t.deployment, from: t.from, helm: t.helm, seedLabel: t.seedLabel });
  }
  if (d.registrationGate?.on) out.push({ type: 'gateRegistration', registration: d.registrationGate.registration, seedLabel: d.registrationGate.seedLabel, on: true });
  if (d.deployment) out.push({ type: 'updateControllerDeployment', name: d.deployment.name, helm: d.deployment.helm, ...(d.deployment.replaces ? { replaces: d.deployment.replaces } : {}) });
  for (const [n, w] of seeds) {
    const c = w.chart;
    if (!c) continue;
    if (c.replaces) out.push({ type: 'revertSeed', seed: n, previousVersion: c.previousVersion, previousRef: c.ociRepository, replaces: c.replaces });
    else out.push({ type: 'promoteSeed', seed: n, ociRepository: c.ociRepository, version: c.version });
  }
  const label = d.temporary?.seedLabel;
  for (const [n, w] of seeds) {
    const v = w.releaseLabel;
    if (v !== undefined && label) out.push({ type: 'labelSeed', seed: n, key: label, value: v });
  }
  for (const [n, w] of seeds) if (w.stop === false) out.push({ type: 'clearEmergencyStop', seed: n });
  if (d.temporary && !d.temporary.present) out.push({ type: 'deleteCanaryRegistration', registration: d.temporary.registration, deployment: d.temporary.deployment });
  if (d.registrationGate && !d.registrationGate.on) out.push({ type: 'gateRegistration', registration: d.registrationGate.registration, seedLabel: d.registrationGate.seedLabel, on: false });
  for (const [n, w] of seeds) {
    const m = w.marks;
    if (m) out.push({ type: 'markSeed', seed: n, wave: m.wave, canary: m.canary });
    else if (m === null) out.push({ type: 'unmarkSeed', seed: n });
  }
  if (d.reconciles.owed.length) out.push({ type: 'requestShootReconciles', shoots: d.reconciles.owed, pending: d.reconciles.pending, maxPerMinute: d.reconciles.maxPerMinute });
  return out;
}

/** Someone else's edit a revert will not overwrite: the observed content is neither ours nor the previous one. */
export function revertConflicts(d: DesiredGarden, obs: Observation): string[] {
  const out: string[] = [];
  const dep = d.deployment;
  if (dep?.replaces) {
    const cd = obs.extensions?.deployments.get(dep.name);
    if (cd && !sameHelm(cd.helm, dep.helm) && !sameHelm(cd.helm, dep.replaces)) {
      out.push(`ControllerDeployment ${dep.name} was changed by someone else (resourceVersion ${cd.metadata.resourceVersion ?? '?'}): the revert does not overwrite it`);
    }
  }
  for (const [n, w] of Object.entries(d.seeds)) {
    if (!w.chart?.replaces || !obs.gardenletRefs.has(n)) continue;
    const ref = obs.gardenletRefs.get(n);
    if (ref && !sameOCIRef(ref, w.chart.ociRepository) && !sameOCIRef(ref, w.chart.replaces)) out.push(`Gardenlet ${n} carries a chart someone else set: the revert does not overwrite it`);
  }
  return out.sort();
}

export function sameOCIRef(a: OCIRepository | undefined, b: OCIRepository | undefined): boolean {
  if (!a || !b) return a === b;
  return (a.ref ?? '') === (b.ref ?? '') && (a.repository ?? '') === (b.repository ?? '') && (a.tag ?? '') === (b.tag ?? '') && (a.digest ?? '') === (b.digest ?? '');
}

/**
 * When to look again: what the decision asks for; sooner while shoots owe reconcile requests (when the rate lets the
 * next one go, `nextTokenMs`); and a finished rollout only while it still owes something.
 */
export function requeueAfter(decided: number | undefined, desired: Pick<DesiredGarden, 'reconciles'>, nextTokenMs: number): number | undefined {
  if (!desired.reconciles.owed.length) return decided;
  const soon = Math.max(1000, nextTokenMs);
  return decided === undefined ? soon : Math.min(decided, soon);
}
