// gardenlet targets: the rollout writes a chart into each unit root's Gardenlet object (gardener-operator's
// Gardenlet, seedmanagement.gardener.cloud/v1alpha1); a managed seed's gardenlet is deployed by its parent's, so it
// moves with its parent (planner.ts, units). A seed runs the target once it is ready and reports the target version
// (Seed status.gardener.version); a shoot once its last operation ran under it (health.ts, isExposed).
import type { Target } from '../../api/target.js';
import { statusBudgetProblem } from '../bounds.js';
import type { DesiredGarden } from '../desired.js';
import type { Observation } from '../evaluate.js';
import type { Ctx } from '../machine-context.js';
import { gardenletPreflight } from '../preflight.js';
import type { SeedView, Standing, StartCheck, TargetAdapter } from './target.js';

export type GardenletTarget = NonNullable<Target['gardenlet']>;

export function gardenletTarget(target: GardenletTarget): TargetAdapter {
  return {
    kind: 'gardenlet',
    units: 'managedSeedsFollowParent',
    words: { promote: 'promote', promoted: 'Promoted' },
    start(spec, plan, obs, facts): StartCheck {
      const preflight = gardenletPreflight(spec, plan, obs);
      if (preflight) return { blocked: preflight };
      const tooLarge = statusBudgetProblem(plan, 'gardenlet', facts);
      return tooLarge ? { blocked: { reason: 'StatusTooLarge', message: tooLarge } } : {};
    },
    view: (_spec, ctx, obs) => gardenletSeeds(target, ctx, obs),
    holdsUnreleased: () => false,
    desire: (_spec, at, out) => gardenletCharts(target, at, out),
  };
}

function gardenletSeeds(target: GardenletTarget, ctx: Ctx, obs: Observation): SeedView {
  const ready = (name: string): boolean => {
    const h = obs.seedHealth.get(name);
    return h?.ready === true && h.version === target.version;
  };
  const exposure = { kind: 'gardenlet', version: target.version } as const;
  return {
    ready,
    exposure: () => exposure,
    releasable: () => true,
    // a seed not ready at the target yet is the deadline's to judge; one that was and is not any more fails
    failing: (name) => ctx.seeds[name]?.readyAt !== undefined && !ready(name),
    liveBeforeRelease: false,
    atRevision: () => false,
    revertedAll: (vanished) => previousVersionsBack(ctx, obs, vanished),
    handedBack: () => true,
    holdExceeded: () => undefined,
  };
}

/** RevertAll of charts has landed: every promoted root that is still there runs its previous version again. */
export function previousVersionsBack(ctx: Ctx, obs: Pick<Observation, 'seedHealth'>, vanished: ReadonlySet<string>): boolean {
  return Object.entries(ctx.seeds).every(([n, s]) => !s.promotedAt || s.root !== n || vanished.has(n) || obs.seedHealth.get(n)?.version === s.previousVersion);
}

/** Promoted unit roots carry the target chart while in flight, and their previous chart while rolling back. */
function gardenletCharts(g: GardenletTarget, { ctx, phase, inFlight }: Standing, out: DesiredGarden): void {
  for (const [n, s] of Object.entries(ctx.seeds)) {
    if (!s.promotedAt || s.root !== n || s.vanished) continue;
    if (inFlight) (out.seeds[n] ??= {}).chart = { ociRepository: g.ociRepository, version: g.version };
    // a revert writes only over the chart the rollout put there: someone else's later edit stays (and is reported)
    else if (phase === 'RollingBack' && s.previousRef) {
      (out.seeds[n] ??= {}).chart = { ociRepository: s.previousRef, version: s.previousVersion ?? '', replaces: g.ociRepository, ...(s.previousVersion ? { previousVersion: s.previousVersion } : {}) };
    }
  }
}
