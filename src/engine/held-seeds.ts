// One writer per seed: the seeds other rollouts of the same target hold, which a rollout that has not started must
// leave alone (decide.ts keeps it Pending with condition Waiting, reason SeedsHeldByOtherRollout, while they are held).
import type { CanaryRollout } from '../api/v1alpha1.js';
import { matchesSelector } from './selector.js';

const IN_FLIGHT = new Set(['Planning', 'Progressing', 'Paused', 'Halted', 'Failed', 'RollingBack']);

function sameTarget(a: CanaryRollout['spec']['target'], b: CanaryRollout['spec']['target']): boolean {
  // (a ControllerDeployment is one object for the whole landscape: its rollouts hold every seed, see below)
  if (a.gardenlet && b.gardenlet) return true;
  return !!a.extension && !!b.extension && a.extension.controllerDeployment === b.extension.controllerDeployment;
}

/** Seeds that other rollouts of the same target hold: their plan while in flight, their scope if older and not started. */
export function seedsHeldByOthers(me: CanaryRollout, all: readonly CanaryRollout[], seeds: readonly { name: string; labels: Record<string, string>; deleting: boolean }[]): Map<string, string> {
  const held = new Map<string, string>();
  const older = (o: CanaryRollout) => {
    const a = o.metadata.creationTimestamp ?? '';
    const b = me.metadata.creationTimestamp ?? '';
    return a < b || (a === b && o.metadata.name < me.metadata.name);
  };
  for (const o of all) {
    // a dry run touches nothing, so it holds nothing
    if (o.metadata.name === me.metadata.name || o.spec.dryRun || !sameTarget(o.spec.target, me.spec.target)) continue;
    const phase = o.status?.phase ?? 'Pending';
    // an extension rollout changes one landscape-wide ControllerDeployment: it holds every seed, whatever its scope
    const everywhere = !!o.spec.target.extension;
    if (IN_FLIGHT.has(phase) && o.status?.plan) {
      if (everywhere) for (const s of seeds) held.set(s.name, o.metadata.name);
      else for (const w of o.status.plan.waves) for (const s of w.seeds) held.set(s.name, o.metadata.name);
    } else if (phase === 'Pending' && older(o)) {
      for (const s of seeds) if (!s.deleting && (everywhere || matchesSelector(s.labels, o.spec.seedSelector))) held.set(s.name, o.metadata.name);
    }
  }
  return held;
}
