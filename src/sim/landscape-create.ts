// Creating a planned landscape in a garden, through the real API and status included: what Gardener's components and
// operators would have left there (projects, CloudProfiles, registrations, Gardenlets, ManagedSeeds, seeds with their
// first heartbeat, shoots as gardenlet reconciled them). Idempotent: objects that exist are kept.
import { RESOURCES, type KubeClient } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import { ensure, ensureNamespace, ensureSecret } from './garden-writes.js';
import { ensureGardenerInfo } from './gardener-info.js';
import { ensureLeaseNamespace, renewSeedLease } from './lease.js';
import {
  cloudProfileName,
  cloudProfileSpec,
  CONTROLLER_REGISTRATION_FINALIZER,
  extensionChartRef,
  gardenletChartRef,
  gardenletConfig,
  landscapeLabels,
  managedSeedHost,
  registrationsFor,
  seedLabelsFor,
  seedSpec,
  shootSpec,
} from './landscape-objects.js';
import { GARDEN_NAMESPACE, isManagedSeed, planLandscape, type LandscapePlan, type LandscapeSpec, type PlannedSeed, type PlannedShoot } from './landscape-plan.js';
import { seedStatus, shootStatus, shootStatusLabel } from './status.js';

export interface CreatedLandscape {
  plan: LandscapePlan;
  timings: Record<string, number>;
}

/** Creates a project and its namespace, as gardener-controller-manager's project controller would. */
async function ensureProject(client: KubeClient, name: string, namespace: string, labels: Record<string, string>): Promise<void> {
  await ensureNamespace(client, namespace, { ...labels, 'project.gardener.cloud/name': name, 'gardener.cloud/role': 'project' });
  await ensure(client, RESOURCES.projects, { metadata: { name, labels }, spec: { namespace } });
}

/** A provider's credentials in a project namespace: the Secret and the CredentialsBinding shoots name. */
async function ensureCredentials(client: KubeClient, namespace: string, provider: string, labels: Record<string, string>): Promise<void> {
  await ensureSecret(client, namespace, `${provider}-credentials`, labels);
  await ensure(client, RESOURCES.credentialsBindings, {
    metadata: { name: provider, namespace, ...(Object.keys(labels).length ? { labels } : {}) },
    provider: { type: provider },
    credentialsRef: { apiVersion: 'v1', kind: 'Secret', name: `${provider}-credentials`, namespace },
  });
}

/** Registrations are shared by type across landscapes; creating one that exists is a no-op. */
export async function ensureRegistrations(client: KubeClient, providers: readonly string[], version = 'v1.0.0'): Promise<void> {
  await mapLimit(registrationsFor(providers), 8, async (r) => {
    await ensure(client, RESOURCES.controllerDeployments, {
      metadata: { name: r.name },
      helm: { ociRepository: { ref: extensionChartRef(r.name, version) } },
    });
    await ensure(client, RESOURCES.controllerRegistrations, {
      metadata: { name: r.name },
      spec: { resources: r.resources, deployment: { deploymentRefs: [{ name: r.name }] } },
    });
  });
}

/** The `garden` namespace and project: managed-seed shoots, Gardenlets and ManagedSeeds live there. */
export async function ensureGardenProject(client: KubeClient): Promise<void> {
  await ensureProject(client, 'garden', GARDEN_NAMESPACE, {});
  await ensureSecret(client, GARDEN_NAMESPACE, 'seed-dns');
}

export async function createLandscape(client: KubeClient, spec: LandscapeSpec, now = new Date()): Promise<CreatedLandscape> {
  const plan = planLandscape(spec);
  const limit = spec.concurrency ?? 24;
  const labels = landscapeLabels(spec);
  const timings: Record<string, number> = {};
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    timings[name] = Math.round(performance.now() - t);
  };
  const providerTypes = [...new Set(spec.providers.map((p) => p.type))];

  await timed('base', async () => {
    await ensureLeaseNamespace(client);
    await ensureGardenerInfo(client);
    await ensureGardenProject(client);
    await ensureRegistrations(client, providerTypes);
    await mapLimit(spec.providers, 4, (p) => ensure(client, RESOURCES.cloudProfiles, { metadata: { name: cloudProfileName(spec, p.type), labels }, spec: cloudProfileSpec(p) }));
  });

  // Projects and seeds do not depend on each other: create them concurrently. CredentialsBinding admission is
  // the slow part (gardener-apiserver checks the referenced Secret through a client limited to 5 QPS).
  const projectsDone = timed('projects', () =>
    mapLimit(plan.projects, limit, async (project) => {
      await ensureProject(client, project.name, project.namespace, labels);
      for (const p of project.providers) await ensureCredentials(client, project.namespace, p, labels);
    }),
  );
  projectsDone.catch(() => undefined); // awaited below; keeps an early failure from being an unhandled rejection
  for (const p of providerTypes) await ensureCredentials(client, GARDEN_NAMESPACE, p, {});

  const unmanaged = plan.seeds.filter((s) => !isManagedSeed(s));
  const managed = plan.seeds.filter(isManagedSeed);
  await timed('seeds', async () => {
    await mapLimit(unmanaged, limit, (s) => createSeed(client, spec, s, now));
    // Unmanaged seeds are operated through Gardenlet objects (self-upgrading gardenlets).
    await mapLimit(unmanaged, limit, (s) =>
      ensure(client, RESOURCES.gardenlets, {
        metadata: { name: s.name, namespace: GARDEN_NAMESPACE, labels },
        spec: { deployment: { helm: { ociRepository: { ref: gardenletChartRef(spec.gardenerVersion) } } }, config: gardenletConfig(spec, s) },
      }),
    );
    // Managed seeds: the hosting shoot in `garden`, the ManagedSeed, then the Seed its gardenlet registers.
    await mapLimit(managed, limit, async (s) => {
      const host = managedSeedHost(s);
      await createShoot(client, plan, host, now, { ...labels });
      await ensure(client, RESOURCES.managedSeeds, {
        metadata: { name: s.name, namespace: GARDEN_NAMESPACE, labels },
        spec: { shoot: { name: host.name }, gardenlet: { config: gardenletConfig(spec, s) } },
      });
      await createSeed(client, spec, s, now);
    });
  });

  await projectsDone;
  await timed('shoots', () => mapLimit(plan.shoots, limit, (shoot) => createShoot(client, plan, shoot, now, labels)));
  return { plan, timings };
}

/** A seed as its gardenlet registers it: the object, its first heartbeat (see lease.ts), then its status. */
async function createSeed(client: KubeClient, spec: LandscapeSpec, seed: PlannedSeed, now: Date): Promise<void> {
  await ensure(client, RESOURCES.seeds, { metadata: { name: seed.name, labels: seedLabelsFor(spec) }, spec: seedSpec(seed) });
  await renewSeedLease(client, { name: seed.name }, Date.now(), 10_000);
  await client.patchStatus(RESOURCES.seeds, seed.name, {
    status: seedStatus({ seedName: seed.name, gardenerVersion: spec.gardenerVersion, ready: true, generation: 1, now }),
  });
}

async function createShoot(client: KubeClient, plan: LandscapePlan, shoot: PlannedShoot, now: Date, labels: Record<string, string>): Promise<void> {
  await ensure(client, RESOURCES.shoots, {
    metadata: {
      name: shoot.name,
      namespace: shoot.namespace,
      labels: { ...labels, ...shootStatusLabel(shoot.health, shoot.hibernated) },
      ...(plan.spec.settled ? { finalizers: [CONTROLLER_REGISTRATION_FINALIZER] } : {}),
    },
    spec: shootSpec(plan, shoot),
  });
  await client.patchStatus(
    RESOURCES.shoots,
    shoot.name,
    {
      status: shootStatus({
        seedName: shoot.seed,
        gardenerVersion: plan.spec.gardenerVersion,
        health: shoot.health,
        hibernated: shoot.hibernated,
        ...(shoot.errorCodes ? { errorCodes: shoot.errorCodes } : {}),
        now,
      }),
    },
    shoot.namespace,
  );
}
