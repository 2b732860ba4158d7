// The simulated world (world.ts) as the controller lists it: Seeds, ManagedSeeds and Shoots with the status gardenlet
// and the care controllers would have written, Gardenlets naming their charts, and in extension mode the
// registrations, deployments and installations.
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import type { ExtensionObjects } from '../engine/evaluate.js';
import { helmVersion } from './landscape-objects.js';
import { seedStatus, shootStatus } from './status.js';
import type { World } from './world.js';

export function listedObjects(w: World): { seeds: Seed[]; managedSeeds: ManagedSeed[]; shoots: Shoot[] } {
  const now = new Date(w.now);
  const seeds: Seed[] = [];
  const managedSeeds: ManagedSeed[] = [];
  const shoots: Shoot[] = [];
  for (const s of w.seeds.values()) {
    if (!s.exists) continue;
    seeds.push({
      metadata: { name: s.name, generation: 1, labels: s.labels },
      spec: { provider: { type: s.provider, region: s.region } },
      status: seedStatus({ seedName: s.name, gardenerVersion: s.version, ready: s.ready, generation: 1, now }),
    });
    if (s.parent) {
      managedSeeds.push({ metadata: { name: s.name, namespace: 'garden' }, spec: { shoot: { name: `ms-${s.name}` } } });
      shoots.push({ metadata: { name: `ms-${s.name}`, namespace: 'garden' }, spec: { provider: { type: s.provider }, seedName: s.parent }, status: { seedName: s.parent } });
    }
  }
  for (const sh of w.shoots) {
    if (!w.seeds.get(sh.seed)?.exists) continue;
    const status = shootStatus({
      seedName: sh.seed,
      gardenerVersion: sh.processing?.version ?? sh.version,
      health: sh.health,
      hibernated: sh.hibernated,
      ...(sh.userError ? { errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] } : {}),
      ...(sh.processing ? { lastOperationState: 'Processing' as const } : {}),
      now: new Date(sh.processing ? w.now : sh.reconciledAt),
    });
    status.observedGeneration = sh.observedGeneration;
    shoots.push({ metadata: { name: sh.name, namespace: sh.namespace, generation: sh.generation }, spec: { provider: { type: 'sim' }, seedName: sh.seed, hibernation: { enabled: sh.hibernated } }, status });
  }
  return { seeds, managedSeeds, shoots };
}

/** Registrations, deployments and installations as the controller would list them (extension mode). */
export function listedExtensionObjects(w: World): ExtensionObjects | undefined {
  const ext = w.ext;
  if (!ext) return undefined;
  const iso = (t: number | undefined) => new Date(t ?? w.now).toISOString();
  const deployments = [...ext.deployments].map(([name, d]): ControllerDeployment => ({ metadata: { name, resourceVersion: String(d.rv) }, helm: d.helm }));
  const registrations = [...ext.registrations].map(
    ([name, r]): ControllerRegistration => ({
      metadata: { name },
      spec: {
        resources: [{ kind: 'Extension', type: ext.name, primary: ext.primary }],
        deployment: { policy: 'Always', deploymentRefs: [{ name: r.deployment }], ...(r.selector ? { seedSelector: r.selector } : {}) },
      },
    }),
  );
  const installations = [...ext.installations.values()].map((ci): ControllerInstallation => {
    const done = ci.installed === ci.rv;
    const c = (type: string, status: 'True' | 'False') => ({ type, status, lastTransitionTime: iso(ci.installedAt), lastUpdateTime: iso(ci.installedAt) });
    const healthy = !(w.seeds.get(ci.seed)?.breaksOnUpgrade && helmVersion(ext.deployments.get(ci.deployment)?.helm) === w.newVersion);
    return {
      metadata: { name: `${ci.registration}-${ci.seed}` },
      spec: { registrationRef: { name: ci.registration }, seedRef: { name: ci.seed }, deploymentRef: { name: ci.deployment, resourceVersion: String(ci.rv) } },
      status: { conditions: [c('Valid', 'True'), c('Installed', done ? 'True' : 'False'), c('Healthy', done && healthy ? 'True' : 'False'), c('Progressing', done ? 'False' : 'True')] },
    };
  });
  return { deployments, registrations, installations };
}

/** Gardenlet objects of unmanaged seeds, their chart naming the version they deploy. */
export function listedGardenlets(w: World): Gardenlet[] {
  return [...w.seeds.values()]
    .filter((s) => s.exists && !s.parent)
    .map((s): Gardenlet => ({ metadata: { name: s.name, namespace: 'garden' }, spec: { deployment: { helm: { ociRepository: { ref: `r/gardenlet:${s.chart}` } } } } }));
}
