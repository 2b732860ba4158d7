// Extension targets: the rollout writes a ControllerDeployment's helm content and lets seeds run it one wave at a
// time, by one of two strategies (../extension.ts, chooseStrategy): SeedSelector, a temporary registration whose
// seedSelector takes released seeds only; ReconcileGate, the new content live everywhere and every seed not released
// held by an emergency stop. Every seed is its own unit. A seed runs the target once released and its installations
// are healthy at the new revision (../extension.ts, seedRun); a shoot once reconciled after that (exposedSince).
import type { CanaryRolloutSpec, ExtensionStatus } from '../../api/v1alpha1.js';
import { durationMs, formatDuration } from '../../util/duration.js';
import { statusBudgetProblem } from '../bounds.js';
import type { DesiredGarden } from '../desired.js';
import type { Observation } from '../evaluate.js';
import { chooseStrategy, exposedSince, handedBack, RELEASE_VALUE, reverted, seedRun, targetHelm, type ExtensionObservation, type ExtensionTarget, type SeedRun } from '../extension.js';
import type { Ctx } from '../machine-context.js';
import { previousVersionsBack } from './gardenlet.js';
import type { SeedView, Standing, StartCheck, TargetAdapter } from './target.js';

export function extensionTarget(target: ExtensionTarget): TargetAdapter {
  return {
    kind: 'extension',
    units: 'seedBySeed',
    words: { promote: 'release', promoted: 'Released' },
    start: (spec, plan, obs, facts) => {
      // the strategy must be possible before anything is planned or touched
      const choice = chooseStrategy(spec, obs.extensions);
      if (!choice.ok) return blocked(choice.code, choice.reason);
      const status = choice.status;
      if (status.strategy === 'ReconcileGate') {
        if (target.strategy === 'Auto') return blocked('ReconcileGateNotChosen', reconcileGateNotChosen(spec, status.reason, plan));
        const inPlan = new Set(plan.waves.flatMap((w) => w.seeds.map((x) => x.name)));
        const ungated = ungatedSeeds(status, obs.extensions, inPlan);
        if (ungated.length) {
          return blocked(
            'SeedsOutsideTheGate',
            `${ungated.length} seeds run the extension but are in no wave (out of scope or unplanned), so the reconcile gate could not hold them when the ControllerDeployment changes: ${ungated.slice(0, 5).join(', ')}${ungated.length > 5 ? ', ...' : ''}; widen the scope or the waves`,
          );
        }
      }
      const tooLarge = statusBudgetProblem(plan, 'extension', facts, status);
      return tooLarge ? blocked('StatusTooLarge', tooLarge) : { extension: status };
    },
    view: (spec, ctx, obs, settleAt) => extensionSeeds(spec, target, ctx, obs, settleAt),
    holdsUnreleased: (ctx) => ctx.extension?.strategy === 'ReconcileGate',
    desire: (spec, at, out) => {
      if (at.ctx.extension) extensionObjects(target, spec, at.ctx.extension, at, out);
    },
  };
}

const blocked = (reason: string, message: string): StartCheck => ({ blocked: { reason, message } });

/**
 * Strategy Auto never takes ReconcileGate on its own (issue 17): the gate holds every shoot operation on each seed not
 * released yet (Gardener's emergency stop blocks reconciles of every kind, creation, deletion and hibernation
 * included: pkg/gardenlet/controller/shoot/shoot/helper/infos.go, shouldReconcileNow), for days on a big landscape.
 * The rollout waits until the operator sets the strategy; this says what the gate would hold, and for how long.
 */
export function reconcileGateNotChosen(spec: CanaryRolloutSpec, why: string, plan: { seeds: number; shoots: number; waves: readonly { seeds: readonly unknown[]; shoots: number }[] }): string {
  const before = spec.waves.slice(0, -1);
  const last = plan.waves.at(-1);
  const held = last && plan.waves.length > 1 ? `the last wave's ${last.seeds.length} seeds (${last.shoots} shoots) wait longest` : 'each seed waits until it is released';
  // each earlier wave: its bake at least; at most its deadline to exposure, its bake, and its deadline after the bake
  const least = before.reduce((t, w) => t + durationMs(w.bake ?? spec.bake), 0);
  const most = before.reduce((t, w) => t + durationMs(w.bake ?? spec.bake) + 2 * durationMs(w.progressDeadline ?? spec.progressDeadline), 0);
  const bound = spec.target.extension?.maxHold ? `; spec.target.extension.maxHold pauses the rollout after ${spec.target.extension.maxHold}` : '; set spec.target.extension.maxHold to pause the rollout after a time of your choice';
  return (
    `strategy Auto does not take ReconcileGate on its own: ${why}. ReconcileGate would hold every shoot operation (reconcile, creation, deletion ` +
    `and hibernation) on each seed until its wave releases it: ${plan.seeds} seeds with ${plan.shoots} shoots; ${held}: at least ` +
    `${formatDuration(least)} (the bakes before it), up to ${formatDuration(most)} while every wave keeps its progress deadlines, and without ` +
    `limit while the rollout is paused, halted or failed${bound}. Set spec.target.extension.strategy to ReconcileGate to accept this ` +
    `(kubectl patch canaryrollout NAME --type merge -p '{"spec":{"target":{"extension":{"strategy":"ReconcileGate"}}}}')`
  );
}

/** ReconcileGate: seeds that run the registration but no wave holds; the gate could not keep them from the new version. */
export function ungatedSeeds(status: ExtensionStatus, obs: ExtensionObservation | undefined, planned: ReadonlySet<string>): string[] {
  const regs = new Set(status.registrations);
  const out: string[] = [];
  for (const [seed, cis] of obs?.installationsBySeed ?? []) {
    if (!planned.has(seed) && cis.some((ci) => regs.has(ci.spec.registrationRef.name))) out.push(seed);
  }
  return out.sort();
}

function extensionSeeds(spec: CanaryRolloutSpec, target: ExtensionTarget, ctx: Ctx, obs: Observation, settleAt: Date | undefined): SeedView {
  const ext = ctx.extension;
  const gated = ext?.strategy === 'ReconcileGate';
  const carePeriodMs = durationMs(target.installationCarePeriod ?? '30s');
  const runs = new Map<string, SeedRun>();
  // what a seed runs; undefined without a recorded strategy (nothing runs the new version as far as the rollout knows)
  const runOf = (name: string): SeedRun | undefined => {
    if (!ext) return undefined;
    let r = runs.get(name);
    if (!r) {
      const settle = settleAt && { now: settleAt, carePeriodMs, revisionSince: ctx.seeds[name]?.revisionSince, contentSince: ctx.waves[0]?.startedAt };
      runs.set(name, (r = seedRun(spec, ext, obs.extensions, name, settle)));
    }
    return r;
  };
  const seedReady = (name: string): boolean => obs.seedHealth.get(name)?.ready === true;
  const ready = (name: string): boolean => seedReady(name) && ctx.seeds[name]?.promotedAt !== undefined && runOf(name)?.ready === true;
  const failed = (name: string): boolean => runOf(name)?.failed === true;
  return {
    ready,
    exposure: (name) => {
      // a shoot runs the new extension version once reconciled after its seed was released and the new revision installed
      const releasedAt = ctx.seeds[name]?.promotedAt;
      const run = releasedAt ? runOf(name) : undefined;
      return releasedAt && run?.ready ? { kind: 'extension', releasedAt: exposedSince(releasedAt, run) } : undefined;
    },
    // a reconcile gate releases a seed only once its installations run the new revision: its shoots then reconcile
    // onto the new version right away, and a stale healthy condition cannot pass for the new revision later
    releasable: (root) => !gated || runOf(root)?.ready === true,
    // a seed that was ready fails when it is not ready any more or its installation fails; one not ready yet when its
    // installation fails at the new revision (released, or live everywhere behind a reconcile gate)
    failing: (name) => {
      const s = ctx.seeds[name];
      if (!s) return false;
      if (s.readyAt) return !ready(name) && (!seedReady(name) || failed(name));
      return (ctx.seeds[s.root]?.promotedAt !== undefined || gated) && failed(name);
    },
    liveBeforeRelease: gated,
    atRevision: (name) => runOf(name)?.atRevision === true,
    // without a recorded strategy (status.extension edited away) the seeds' versions are all there is to go by
    revertedAll: (vanished) => (ext ? reverted(spec, ext, obs.extensions) : previousVersionsBack(ctx, obs, vanished)),
    handedBack: () => (ext ? handedBack(spec, ext, obs.extensions) : true),
    holdExceeded: (now, vanished) => maxHoldExceeded(ctx, target, now, vanished),
  };
}

/**
 * ReconcileGate with spec.target.extension.maxHold: the gate has held seeds that are not released yet for longer than
 * that, counted from the rollout's start or its last resume or retry (holdSince).
 */
function maxHoldExceeded(ctx: Ctx, target: ExtensionTarget, now: Date, vanished: ReadonlySet<string>): string | undefined {
  const maxHold = target.maxHold;
  const since = ctx.holdSince ?? ctx.waves[0]?.startedAt;
  if (!maxHold || ctx.extension?.strategy !== 'ReconcileGate' || !since) return undefined;
  const held = Object.entries(ctx.seeds).filter(([n, s]) => !s.promotedAt && !vanished.has(n)).length;
  const heldMs = now.getTime() - Date.parse(since);
  if (!held || heldMs < durationMs(maxHold)) return undefined;
  return `the reconcile gate has held ${held} seeds not released yet for ${formatDuration(heldMs)} since ${since}, longer than spec.target.extension.maxHold ${maxHold}: resume to hold them for another ${maxHold}, or abort`;
}

function extensionObjects(target: ExtensionTarget, spec: CanaryRolloutSpec, ext: ExtensionStatus, { ctx, phase, inFlight, completing, live }: Standing, out: DesiredGarden): void {
  const name = target.controllerDeployment;
  const helm = targetHelm(spec);
  const tmp = ext.temporary;
  if (!tmp) {
    // ReconcileGate: the new content is live while in flight (after the stops above); a revert writes the previous
    // content back, only over ours
    if (inFlight) out.deployment = { name, helm };
    else if (phase === 'RollingBack') out.deployment = { name, helm: ext.previous?.helm ?? {}, replaces: helm };
    return;
  }
  // SeedSelector: one original registration (chooseStrategy takes it with exactly one)
  const [original] = ext.registrations;
  if (original === undefined) return;
  const base = { registration: tmp.registration, deployment: tmp.deployment, from: original, helm, seedLabel: tmp.seedLabel };
  const gate = { registration: original, seedLabel: tmp.seedLabel };
  const label = (n: string, value: string | null) => ((out.seeds[n] ??= {}).releaseLabel = value);
  if (inFlight && !completing) {
    out.temporary = { ...base, present: true };
    out.registrationGate = { ...gate, on: true };
    for (const n of live) label(n, ctx.seeds[n]?.promotedAt ? RELEASE_VALUE : null);
  } else if (completing || phase === 'RollingBack') {
    // handing back: the original deployment takes the new content, every seed goes back to the original registration;
    // rolling back: every seed goes back to the original registration (and its old content)
    if (completing) out.deployment = { name, helm };
    out.temporary = { ...base, present: true };
    out.registrationGate = { ...gate, on: true };
    for (const n of live) label(n, null);
  } else if (phase === 'Succeeded' || phase === 'RolledBack') {
    out.temporary = { ...base, present: false };
    out.registrationGate = { ...gate, on: false };
    for (const n of Object.keys(ctx.seeds)) label(n, null);
  }
}
