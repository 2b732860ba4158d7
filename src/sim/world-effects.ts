// The rollout's writes landing in the simulated world (world.ts): each effect changes what it names the way the API
// server and Gardener's controllers would, and only when it changes something; every real change is counted.
import type { Effect } from '../engine/effects.js';
import { canonical } from '../engine/extension.js';
import { helmVersion } from './landscape-objects.js';
import type { World } from './world.js';

const sameContent = (a: unknown, b: unknown): boolean => canonical(a ?? {}) === canonical(b ?? {});

export function applyEffect(w: World, e: Effect): void {
  const seed = 'seed' in e ? w.seeds.get(e.seed) : undefined;
  switch (e.type) {
    case 'markSeed':
      if (!seed?.exists || (seed.marks?.wave === e.wave && seed.marks.canary === e.canary)) return;
      seed.marks = { wave: e.wave, canary: e.canary };
      w.changes.log.push(`mark ${e.seed}`);
      return;
    case 'unmarkSeed':
      if (!seed?.marks) return;
      delete seed.marks;
      w.changes.log.push(`unmark ${e.seed}`);
      return;
    case 'promoteSeed':
      // managed seeds have no Gardenlet of their own: they follow their parent
      if (!seed?.exists || seed.parent || seed.chart === e.version) return;
      seed.chart = e.version;
      seed.pending = { version: e.version, at: w.now + (5 + w.random() * 15) * 60_000 };
      w.changes.promotions.set(e.seed, (w.changes.promotions.get(e.seed) ?? 0) + 1);
      w.changes.log.push(`promote ${e.seed}`);
      return;
    case 'revertSeed':
      // only over the chart the rollout wrote
      if (!seed?.exists || seed.parent || !e.previousVersion || seed.chart === e.previousVersion || seed.chart !== w.newVersion) return;
      seed.chart = e.previousVersion;
      seed.pending = { version: e.previousVersion, at: w.now + 10 * 60_000 };
      w.changes.reverts.set(e.seed, (w.changes.reverts.get(e.seed) ?? 0) + 1);
      w.changes.log.push(`revert ${e.seed}`);
      return;
    case 'emergencyStopSeed':
      if (!seed || seed.emergencyStopped) return;
      seed.emergencyStopped = true;
      w.changes.log.push(`stop ${e.seed}`);
      return;
    case 'clearEmergencyStop':
      if (!seed?.emergencyStopped) return;
      seed.emergencyStopped = false;
      seed.released = w.now;
      w.changes.log.push(`release ${e.seed}`);
      return;
    case 'updateControllerDeployment': {
      const d = w.ext?.deployments.get(e.name);
      if (!d || sameContent(d.helm, e.helm) || (e.replaces && !sameContent(d.helm, e.replaces))) return;
      Object.assign(d, { helm: e.helm, rv: w.nextRevision() });
      w.changes.log.push(`deployment ${e.name} ${helmVersion(e.helm)}`);
      return;
    }
    case 'createCanaryRegistration': {
      const ext = w.ext;
      if (!ext) return;
      if (!ext.deployments.has(e.deployment)) ext.deployments.set(e.deployment, { rv: w.nextRevision(), helm: e.helm });
      if (ext.registrations.has(e.registration)) return;
      ext.registrations.set(e.registration, { deployment: e.deployment, selector: { matchLabels: { [e.seedLabel]: 'true' } } });
      w.changes.log.push(`temporary create ${e.registration}`);
      return;
    }
    case 'deleteCanaryRegistration':
      if (!w.ext?.registrations.has(e.registration) && !w.ext?.deployments.has(e.deployment)) return;
      w.ext.registrations.delete(e.registration);
      w.ext.deployments.delete(e.deployment);
      w.changes.log.push(`temporary delete ${e.registration}`);
      return;
    case 'gateRegistration': {
      const r = w.ext?.registrations.get(e.registration);
      if (!r || (r.selector !== undefined) === e.on) return;
      r.selector = e.on ? { matchExpressions: [{ key: e.seedLabel, operator: 'DoesNotExist' }] } : undefined;
      w.changes.log.push(`gate ${e.registration} ${e.on ? 'on' : 'off'}`);
      return;
    }
    case 'labelSeed':
      if (!seed || (seed.labels[e.key] ?? null) === e.value) return;
      if (e.value === null) delete seed.labels[e.key];
      else {
        seed.labels[e.key] = e.value;
        seed.released = w.now;
      }
      w.changes.log.push(`label ${e.seed} ${e.value ?? '-'}`);
      return;
    case 'requestShootReconciles': {
      const budget = Math.max(0, e.maxPerMinute - e.pending);
      const byKey = new Map(w.shoots.map((x) => [`${x.namespace}/${x.name}`, x]));
      for (const ref of e.shoots.slice(0, budget)) {
        const sh = byKey.get(`${ref.namespace}/${ref.name}`);
        if (!sh) continue;
        // gardener-apiserver bumps the generation for reconcile, and for retry on a Failed shoot (strategy.go); the
        // simulated shoots never fail for good, so both reach gardenlet the same way here
        sh.generation++;
        w.changes.reconcileRequests++;
        w.changes.log.push(`${ref.operation} ${sh.seed} ${ref.namespace}/${ref.name}`);
      }
      return;
    }
    case 'emitEvent':
      return;
  }
}
