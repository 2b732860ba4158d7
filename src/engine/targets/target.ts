// What differs between the kinds of target (a gardenlet chart, an extension's ControllerDeployment), behind one
// interface: the engine picks the adapter once from spec.target (targetOf) and asks it once per concern.
//
// How a reader follows a decision:
//   decide() (decide.ts) restores the machine from the status and asks
//   evaluate() (evaluate.ts) what the landscape says: plan and pre-flight (TargetAdapter.start), then, in flight,
//     seed readiness, exposure and failures per seed (TargetAdapter.view), which the wave and gate rules combine;
//   the machine (machine.ts) turns that evaluation into transitions, decide() writes the status (status.ts), and
//   desiredGarden() (desired.ts) derives what the garden owes that status: the common part (marks, stops,
//     reconciles) and the kind's own objects (TargetAdapter.desire).
// Gardener's facts behind each kind are in gardenlet.ts and extension.ts beside this file, and in ../extension.ts
// (registrations, deployments and installations) and ../preflight.ts (gardenlet's version skew).
import type { CanaryRolloutSpec, ExtensionStatus, Plan } from '../../api/v1alpha1.js';
import type { SeedFacts } from '../bounds.js';
import type { DesiredGarden } from '../desired.js';
import type { Observation } from '../evaluate.js';
import type { Exposure } from '../health.js';
import type { Ctx } from '../machine-context.js';
import type { Blocker } from '../preflight.js';
import type { UnitRule } from '../planner.js';
import { extensionTarget } from './extension.js';
import { gardenletTarget } from './gardenlet.js';

export type TargetKind = 'gardenlet' | 'extension';

/** What a rollout may start with: a blocker (it waits in Pending), or what it records at planning. */
export type StartCheck = { blocked: Blocker } | { extension?: ExtensionStatus };

/** Where a rollout stands, for the objects the target kind owns in the garden (desired.ts). */
export interface Standing {
  ctx: Ctx;
  phase: string;
  /** Progressing, Paused, Halted or Failed: the new version is out, and stays out until the rollout ends. */
  inFlight: boolean;
  /** Every wave passed; a SeedSelector rollout hands the new content back to the original registration. */
  completing: boolean;
  /** Planned seeds that have not vanished. */
  live: readonly string[];
}

/** One evaluation's look at the planned seeds, as this kind of target sees them. */
export interface SeedView {
  /** Seed readiness: the seed is ready and runs the target. */
  ready(name: string): boolean;
  /** Exposure: whether the shoots of a promoted seed run the new version, and since when (undefined: not yet). */
  exposure(name: string): Exposure | undefined;
  /** A unit root may be promoted now (a reconcile gate releases a seed only once it runs the new revision). */
  releasable(root: string): boolean;
  /** The seed fails the rollout now (evaluate.ts, seedRegressions, says which seeds are asked). */
  failing(name: string): boolean;
  /** The new version runs on seeds not released yet (a reconcile gate): a failure there counts before its wave. */
  readonly liveBeforeRelease: boolean;
  /** Extension targets: every installation of the seed is at the new revision. */
  atRevision(name: string): boolean;
  /** RevertAll has landed. */
  revertedAll(vanished: ReadonlySet<string>): boolean;
  /** SeedSelector: the original registration carries the new version and the temporary one runs nowhere. */
  handedBack(): boolean;
  /** ReconcileGate with maxHold: why the gate has held seeds too long; undefined: it has not. */
  holdExceeded(now: Date, vanished: ReadonlySet<string>): string | undefined;
}

export interface TargetAdapter {
  readonly kind: TargetKind;
  /** Plan units: whether a managed seed moves with the seed whose gardenlet deploys its own (planner.ts). */
  readonly units: UnitRule;
  /** Verbs and seed phases in notes and status: a gardenlet seed is promoted, an extension's seed released. */
  readonly words: { promote: 'promote' | 'release'; promoted: 'Promoted' | 'Released' };
  /** Pre-flight: what keeps the planned rollout from starting (checks, an impossible strategy, the status budget). */
  start(spec: CanaryRolloutSpec, plan: Plan, obs: Observation, facts: SeedFacts): StartCheck;
  /**
   * The planned seeds in one evaluation. With `settleAt`, readiness of installations that changed revision in place
   * waits for gardenlet's care loop (extension.ts, Settle); without it, the caller established readiness already.
   */
  view(spec: CanaryRolloutSpec, ctx: Ctx, obs: Observation, settleAt?: Date): SeedView;
  /** A reconcile gate holds every seed not released yet with an emergency stop (desired.ts). */
  holdsUnreleased(ctx: Ctx): boolean;
  /** Desired effects: the objects this kind of target owns in the garden for where the rollout stands. */
  desire(spec: CanaryRolloutSpec, at: Standing, out: DesiredGarden): void;
}

/** The adapter of the spec's target kind (the schema admits exactly one of gardenlet or extension). */
export function targetOf(spec: CanaryRolloutSpec): TargetAdapter {
  const { gardenlet, extension } = spec.target;
  if (gardenlet) return gardenletTarget(gardenlet);
  if (extension) return extensionTarget(extension);
  throw new Error('spec.target: exactly one of gardenlet or extension must be set');
}
