// Landscape fixtures: a typed description of a Gardener landscape (providers, regions, seeds, managed seeds,
// projects, shoots) that is planned purely and deterministically, then created through the real garden API,
// status included. Used by integration tests, benchmarks and the local demo.
//
// Isolation: every object a landscape owns carries the label LABEL_LANDSCAPE=<prefix>, and every cluster-scoped
// name starts with the prefix, so several landscapes can share one garden. Extension registrations are keyed by
// type and shared: Gardener allows only one primary registration per kind/type.
import * as z from 'zod';
import { ANNOTATION_CONFIRM_DELETION, ControllerDeployment, ControllerInstallation, ControllerRegistration } from '../gardener/api.js';
import { errorMessage, RESOURCES, statusCode, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import { GARDENLET_INSTALLATION_FINALIZER } from './installations.js';
import { ensureGardenerInfo } from './gardener-info.js';
import { ensureLeaseNamespace, renewSeedLease } from './lease.js';
import { seedStatus, shootStatus, shootStatusLabel, type ShootHealth } from './status.js';

export const LABEL_LANDSCAPE = 'landscape.canary.gardener.cloud/name';
export const GARDEN_NAMESPACE = 'garden';
export const GARDENLET_CHART = 'europe-docker.pkg.dev/gardener-project/releases/charts/gardener/gardenlet';

export const KUBERNETES_VERSION = '1.33.4';
export const MACHINE_IMAGE = { name: 'gardenlinux', version: '1877.5.0' };
export const MACHINE_TYPE = 'm5.large';
export const NETWORK_TYPE = 'calico';

export interface ProviderSpec {
  /** Provider extension type, e.g. aws. Tests that change a provider's ControllerDeployment use a unique type. */
  type: string;
  regions: string[];
}

export interface LandscapeSpec {
  /** Short, unique, DNS-safe prefix (<= 6 chars, starts with a letter): names and the isolation label. */
  prefix: string;
  providers: ProviderSpec[];
  seedsPerRegion: number;
  /** How many seeds are ManagedSeeds (hosted by a shoot in `garden` on an unmanaged parent seed). */
  managedSeeds?: number;
  projects: number;
  /** Shoots per seed (managed seeds included). */
  shootsPerSeed: number;
  /**
   * Seeds that differ from the rest: the i-th seed of each region takes `seedProfiles[i % length]`, its shoot count
   * and the purposes its shoots cycle through (a landscape with busy production seeds and small evaluation ones).
   * Without profiles every seed has shootsPerSeed shoots and the purposes cycle over the whole landscape.
   */
  seedProfiles?: SeedProfile[];
  /** Every n-th shoot is hibernated (0: none). */
  hibernateEvery?: number;
  /** Every n-th non-hibernated shoot is unhealthy before any rollout (baseline), 0: none. */
  unhealthyEvery?: number;
  /** gardenlet version currently running everywhere, e.g. v1.149.0. */
  gardenerVersion: string;
  /** Extra labels on every seed (in the seedConfig too, so they survive gardenlet restarts). */
  seedLabels?: Record<string, string>;
  /** Requests in flight while creating (default 24). */
  concurrency?: number;
  /**
   * Create shoots as a settled landscape holds them: with the finalizer gardener-controller-manager's cluster
   * finalizer controller adds to every shoot (core.gardener.cloud/controllerregistration, pkg/controllermanager/
   * controller/controllerregistration/clusterfinalizer/reconciler.go), instead of leaving it 20,000 writes to add.
   * Only for gardens that run that controller (it removes the finalizer again on deletion).
   */
  settled?: boolean;
}

/** gardener-controller-manager's finalizer on shoots and seeds that extensions may still need (clusterfinalizer). */
export const CONTROLLER_REGISTRATION_FINALIZER = 'core.gardener.cloud/controllerregistration';

export interface SeedProfile {
  shoots: number;
  purposes: PlannedShoot['purpose'][];
}

export interface PlannedSeed {
  name: string;
  provider: string;
  region: string;
  /** Set for managed seeds: the seed that hosts this seed's shoot, i.e. whose gardenlet deploys ours. */
  parent?: string;
  /** Shoot in `garden` backing a managed seed. */
  managedSeedShoot?: string;
}

export interface PlannedShoot {
  name: string;
  namespace: string;
  project: string;
  seed: string;
  provider: string;
  region: string;
  purpose: 'evaluation' | 'testing' | 'development' | 'production' | 'infrastructure';
  hibernated: boolean;
  health: ShootHealth;
  /** Error codes of a baseline-unhealthy shoot. */
  errorCodes?: string[];
}

export interface PlannedProject {
  name: string;
  namespace: string;
  /** Provider types of the shoots in this project: one CredentialsBinding each. */
  providers: string[];
}

export interface LandscapePlan {
  spec: LandscapeSpec;
  seeds: PlannedSeed[];
  projects: PlannedProject[];
  shoots: PlannedShoot[];
}

const PURPOSES: PlannedShoot['purpose'][] = ['production', 'development', 'evaluation', 'testing'];

/** Pure and deterministic: the same spec always yields the same plan. */
export function planLandscape(spec: LandscapeSpec): LandscapePlan {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(spec.prefix)) {
    throw new Error(`landscape prefix ${JSON.stringify(spec.prefix)} must be 1-6 lowercase letters/digits starting with a letter (Project names are limited to 10 characters)`);
  }
  if (spec.projects < 1 || spec.projects > 9999) throw new Error('projects must be within [1, 9999]');
  if (spec.seedProfiles?.some((p) => p.shoots < 0 || p.purposes.length === 0)) throw new Error('a seed profile needs shoots >= 0 and at least one purpose');
  const seeds: PlannedSeed[] = [];
  const profileOf = new Map<string, SeedProfile>();
  for (const p of spec.providers) {
    for (const region of p.regions) {
      for (let i = 0; i < spec.seedsPerRegion; i++) {
        const name = `${spec.prefix}-${p.type}-${region}-${i}`;
        seeds.push({ name, provider: p.type, region });
        const profile = spec.seedProfiles?.[i % spec.seedProfiles.length];
        if (profile) profileOf.set(name, profile);
      }
    }
  }
  const managed = spec.managedSeeds ?? 0;
  if (managed > 0) {
    // Managed seeds are taken from the end; each is hosted on an unmanaged seed of the same provider/region if
    // there is one, else on any unmanaged seed of the same provider, else on the first unmanaged seed.
    if (managed >= seeds.length) throw new Error('at least one seed must stay unmanaged to host managed seeds');
    const unmanaged = seeds.slice(0, seeds.length - managed);
    seeds.slice(seeds.length - managed).forEach((s, i) => {
      const parent =
        unmanaged.find((u) => u.provider === s.provider && u.region === s.region) ?? unmanaged.find((u) => u.provider === s.provider) ?? unmanaged[0]!;
      s.parent = parent.name;
      s.managedSeedShoot = `${spec.prefix}-ms${i}`;
    });
  }

  // Like most real projects, each project uses one provider when there are enough projects to go around
  // (project i serves provider i mod P); otherwise every project serves every provider.
  const providerTypes = [...new Set(spec.providers.map((p) => p.type))];
  const perProvider = spec.projects >= providerTypes.length;
  const projects: PlannedProject[] = Array.from({ length: spec.projects }, (_, i) => ({
    name: `${spec.prefix}p${i}`,
    namespace: `garden-${spec.prefix}p${i}`,
    providers: perProvider ? [providerTypes[i % providerTypes.length]!] : providerTypes,
  }));
  const projectsFor = new Map(providerTypes.map((t) => [t, projects.filter((p) => p.providers.includes(t))]));
  const shoots: PlannedShoot[] = [];
  let n = 0;
  let awake = 0;
  for (const seed of seeds) {
    const candidates = projectsFor.get(seed.provider)!;
    const profile = profileOf.get(seed.name);
    for (let j = 0; j < (profile?.shoots ?? spec.shootsPerSeed); j++, n++) {
      const project = candidates[n % candidates.length]!;
      const hibernated = !!spec.hibernateEvery && n % spec.hibernateEvery === spec.hibernateEvery - 1;
      let health: ShootHealth = 'healthy';
      let errorCodes: string[] | undefined;
      if (!hibernated) {
        awake++;
        if (spec.unhealthyEvery && awake % spec.unhealthyEvery === 0) {
          health = 'unhealthy';
          errorCodes = ['ERR_INFRA_QUOTA_EXCEEDED'];
        }
      }
      shoots.push({
        name: `s${n}`,
        namespace: project.namespace,
        project: project.name,
        seed: seed.name,
        provider: seed.provider,
        region: seed.region,
        purpose: profile ? profile.purposes[j % profile.purposes.length]! : PURPOSES[n % PURPOSES.length]!,
        hibernated,
        health,
        ...(errorCodes ? { errorCodes } : {}),
      });
    }
  }
  return { spec, seeds, projects, shoots };
}

// ---------------------------------------------------------------------------------------------------------
// Object builders (pure)

function landscapeLabels(spec: LandscapeSpec): Record<string, string> {
  return { [LABEL_LANDSCAPE]: spec.prefix };
}

export function cloudProfileName(spec: LandscapeSpec, provider: string): string {
  return `${spec.prefix}-${provider}`;
}

/** Networks of workload shoots, of unmanaged seeds, and of the shoots hosting managed seeds: pairwise disjoint. */
const SHOOT_NETWORKS = { nodes: '10.250.0.0/16', pods: '100.96.0.0/11', services: '100.64.0.0/13' };
const SEED_NETWORKS = { nodes: '10.240.0.0/16', pods: '10.241.128.0/17', services: '10.241.0.0/17' };
const MANAGED_SEED_NETWORKS = { nodes: '10.242.0.0/16', pods: '10.243.128.0/17', services: '10.243.0.0/17' };

function shootDomain(shootName: string): string {
  return `${shootName}.shoots.example.com`;
}

export function seedSpec(seed: PlannedSeed) {
  // A managed seed's ingress domain and networks must equal its shoot's (ManagedSeed admission).
  const ingressDomain = seed.managedSeedShoot ? `ingress.${shootDomain(seed.managedSeedShoot)}` : `ingress.${seed.name}.seeds.example.com`;
  return {
    provider: { type: seed.provider, region: seed.region, zones: [`${seed.region}a`] },
    ingress: { domain: ingressDomain, controller: { kind: 'nginx' } },
    dns: {
      provider: {
        type: seed.provider,
        credentialsRef: { apiVersion: 'v1', kind: 'Secret', name: 'seed-dns', namespace: GARDEN_NAMESPACE },
      },
      internal: {
        type: seed.provider,
        domain: `internal.${seed.name}.seeds.example.com`,
        credentialsRef: { apiVersion: 'v1', kind: 'Secret', name: 'seed-dns', namespace: GARDEN_NAMESPACE },
      },
    },
    networks: { ipFamilies: ['IPv4'], ...(seed.managedSeedShoot ? MANAGED_SEED_NETWORKS : SEED_NETWORKS) },
    settings: { scheduling: { visible: true } },
  };
}

export function seedLabelsFor(spec: LandscapeSpec): Record<string, string> {
  return { ...landscapeLabels(spec), ...spec.seedLabels };
}

/** The GardenletConfiguration carrying the seed's config, as operators put it into Gardenlet/ManagedSeed objects. */
function gardenletConfig(spec: LandscapeSpec, seed: PlannedSeed) {
  return {
    apiVersion: 'gardenlet.config.gardener.cloud/v1alpha1',
    kind: 'GardenletConfiguration',
    // The seed's name is the Gardenlet's / ManagedSeed's own name; validation forbids repeating it here.
    seedConfig: { metadata: { labels: seedLabelsFor(spec) }, spec: seedSpec(seed) },
  };
}

export function gardenletChartRef(version: string): string {
  return `${GARDENLET_CHART}:${version}`;
}

function shootSpec(plan: LandscapePlan, shoot: PlannedShoot) {
  const hostsSeed = shoot.namespace === GARDEN_NAMESPACE;
  return {
    cloudProfile: { kind: 'CloudProfile', name: cloudProfileName(plan.spec, shoot.provider) },
    credentialsBindingName: shoot.provider,
    region: shoot.region,
    purpose: shoot.purpose,
    seedName: shoot.seed,
    provider: {
      type: shoot.provider,
      workers: [
        {
          name: 'worker',
          minimum: 1,
          maximum: 3,
          machine: { type: MACHINE_TYPE, image: MACHINE_IMAGE, architecture: 'amd64' },
          zones: [`${shoot.region}a`],
        },
      ],
    },
    kubernetes: { version: KUBERNETES_VERSION },
    networking: { type: NETWORK_TYPE, ...(hostsSeed ? MANAGED_SEED_NETWORKS : SHOOT_NETWORKS) },
    hibernation: { enabled: shoot.hibernated },
    // Shoots hosting a managed seed need a domain: the ManagedSeed admission plugin derives the seed's ingress
    // domain from it (and gardener-apiserver v1.150.0 panics on a ManagedSeed whose shoot has none).
    ...(hostsSeed ? { dns: { domain: shootDomain(shoot.name) } } : {}),
    maintenance: { timeWindow: { begin: '220000+0000', end: '230000+0000' } },
  };
}

/** ControllerRegistrations (+ deployments) the landscape's types need: Gardener rejects unregistered types. */
export function registrationsFor(providers: readonly string[]): { name: string; resources: { kind: string; type: string }[] }[] {
  return [
    ...providers.map((type) => ({
      name: `provider-${type}`,
      resources: ['ControlPlane', 'Infrastructure', 'Worker', 'DNSRecord', 'BackupBucket', 'BackupEntry'].map((kind) => ({ kind, type })),
    })),
    { name: `networking-${NETWORK_TYPE}`, resources: [{ kind: 'Network', type: NETWORK_TYPE }] },
    { name: `os-${MACHINE_IMAGE.name}`, resources: [{ kind: 'OperatingSystemConfig', type: MACHINE_IMAGE.name }] },
  ];
}

export function extensionChartRef(name: string, version: string): string {
  return `europe-docker.pkg.dev/gardener-project/releases/charts/gardener/extensions/${name}:${version}`;
}

export interface ExtensionFixture {
  /** Name of the ControllerRegistration and its ControllerDeployment. */
  name: string;
  /** Extension type; unique per primary registration (ControllerRegistrationResources admission). */
  type: string;
  /** Resource kind (default Extension). */
  kind?: string;
  /** Whether the registration controls the kind/type primarily (default true); only secondary ones take a seedSelector. */
  primary?: boolean;
  policy?: 'Always' | 'OnDemand' | 'AlwaysExceptNoShoots';
  /** Seeds the registration is deployed to (secondary registrations only). */
  seedSelector?: NonNullable<NonNullable<ControllerRegistration['spec']['deployment']>['seedSelector']>;
  /** Chart version, the tag of the deployment's OCI ref. */
  version: string;
}

/**
 * A ControllerDeployment at `version` and a ControllerRegistration pointing at it, as an operator (or
 * gardener-operator) registers an extension. An existing deployment is moved to `version`; an existing
 * registration is kept (its resources' primary flag is immutable).
 */
export async function ensureExtension(client: KubeClient, x: ExtensionFixture): Promise<{ deployment: ControllerDeployment; registration: ControllerRegistration }> {
  const helm = { ociRepository: { ref: extensionChartRef(x.name, x.version) } };
  await ensure(client, RESOURCES.controllerDeployments, { metadata: { name: x.name }, helm });
  const deployment = ControllerDeployment.parse(await client.patch(RESOURCES.controllerDeployments, x.name, { helm }));
  await ensure(client, RESOURCES.controllerRegistrations, {
    metadata: { name: x.name },
    spec: {
      resources: [{ kind: x.kind ?? 'Extension', type: x.type, primary: x.primary ?? true }],
      deployment: { policy: x.policy ?? 'Always', deploymentRefs: [{ name: x.name }], ...(x.seedSelector ? { seedSelector: x.seedSelector } : {}) },
    },
  });
  const registration = await client.get(RESOURCES.controllerRegistrations, ControllerRegistration, x.name);
  return { deployment, registration };
}

/** Deletes the matching installations, releasing gardenlet's finalizer on them as its uninstall would. */
async function removeInstallations(client: KubeClient, match: (i: ControllerInstallation) => boolean, concurrency: number): Promise<void> {
  const installations = (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter(match);
  await mapLimit(installations, concurrency, async (i) => {
    const finalizers = i.metadata.finalizers ?? [];
    if (finalizers.includes(GARDENLET_INSTALLATION_FINALIZER)) {
      await client.patch(RESOURCES.controllerInstallations, i.metadata.name, { metadata: { finalizers: finalizers.filter((f) => f !== GARDENLET_INSTALLATION_FINALIZER) } }).catch(ignoreNotFound);
    }
    if (!i.metadata.deletionTimestamp) await client.delete(RESOURCES.controllerInstallations, i.metadata.name);
  });
}

function ignoreNotFound(err: unknown): void {
  if (statusCode(err) !== 404) throw err;
}

/**
 * Removes an extension registered by ensureExtension, together with the `<name>-canary` registration and
 * deployment a rollout may have left, and the installations of both registrations. The registrations go first, so
 * that a simulator still running does not recreate the installations; the deployments once the registrations are
 * gone: gardener-apiserver admits the removal of Gardener's finalizer from a registration only while the deployments
 * it names exist (plugin/pkg/global/resourcereferencemanager/admission.go), so a deployment deleted earlier would
 * keep its registration for good.
 */
export async function deleteExtension(client: KubeClient, name: string, timeoutMs = 60_000): Promise<void> {
  const names = [name, `${name}-canary`];
  for (const n of names) await client.delete(RESOURCES.controllerRegistrations, n);
  const end = Date.now() + timeoutMs;
  for (;;) {
    await removeInstallations(client, (i) => names.includes(i.spec.registrationRef.name), 8);
    const left = (await Promise.all(names.map((n) => client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n)))).filter((r) => r !== undefined);
    if (!left.length) break;
    if (Date.now() > end) throw new Error(`ControllerRegistrations ${left.map((r) => r.metadata.name).join(', ')} not gone ${timeoutMs / 1000}s after their deletion`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const n of names) await client.delete(RESOURCES.controllerDeployments, n);
}

// ---------------------------------------------------------------------------------------------------------
// Applying a plan to a garden

export interface CreatedLandscape {
  plan: LandscapePlan;
  timings: Record<string, number>;
}

/** Creates the object, treating AlreadyExists as success (fixtures are idempotent). */
async function ensure(client: KubeClient, rt: ResourceType, body: KubeObject): Promise<void> {
  try {
    await client.create(rt, body);
  } catch (err) {
    if (statusCode(err) !== 409) throw new Error(`creating ${rt.kind} ${body.metadata.name}: ${errorMessage(err)}`, { cause: err });
  }
}

async function ensureNamespace(client: KubeClient, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await client.core.createNamespace({ body: { metadata: { name, labels } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw new Error(`creating Namespace ${name}: ${errorMessage(err)}`, { cause: err });
  }
}

async function ensureSecret(client: KubeClient, namespace: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  try {
    await client.core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace, labels }, data: { token: Buffer.from('simulated').toString('base64') } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw new Error(`creating Secret ${namespace}/${name}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Creates a project and its namespace, as gardener-controller-manager's project controller would. */
async function ensureProject(client: KubeClient, name: string, namespace: string, labels: Record<string, string>): Promise<void> {
  await ensureNamespace(client, namespace, { ...labels, 'project.gardener.cloud/name': name, 'gardener.cloud/role': 'project' });
  await ensure(client, RESOURCES.projects, { metadata: { name, labels }, spec: { namespace } });
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
    await mapLimit(spec.providers, 4, (p) =>
      ensure(client, RESOURCES.cloudProfiles, {
        metadata: { name: cloudProfileName(spec, p.type), labels },
        spec: {
          type: p.type,
          kubernetes: { versions: [{ version: KUBERNETES_VERSION }] },
          machineImages: [{ name: MACHINE_IMAGE.name, versions: [{ version: MACHINE_IMAGE.version, cri: [{ name: 'containerd' }], architectures: ['amd64'] }] }],
          machineTypes: [{ name: MACHINE_TYPE, cpu: '2', gpu: '0', memory: '8Gi', usable: true, architecture: 'amd64' }],
          regions: p.regions.map((name) => ({ name, zones: [{ name: `${name}a` }] })),
        },
      }),
    );
  });

  // Projects and seeds do not depend on each other: create them concurrently. CredentialsBinding admission is
  // the slow part (gardener-apiserver checks the referenced Secret through a client limited to 5 QPS).
  const projectsDone = timed('projects', () =>
    mapLimit(plan.projects, limit, async (project) => {
      await ensureProject(client, project.name, project.namespace, labels);
      for (const p of project.providers) {
        await ensureSecret(client, project.namespace, `${p}-credentials`, labels);
        await ensure(client, RESOURCES.credentialsBindings, {
          metadata: { name: p, namespace: project.namespace, labels },
          provider: { type: p },
          credentialsRef: { apiVersion: 'v1', kind: 'Secret', name: `${p}-credentials`, namespace: project.namespace },
        });
      }
    }),
  );
  projectsDone.catch(() => undefined); // awaited below; keeps an early failure from being an unhandled rejection
  for (const p of providerTypes) {
    await ensureSecret(client, GARDEN_NAMESPACE, `${p}-credentials`);
    await ensure(client, RESOURCES.credentialsBindings, {
      metadata: { name: p, namespace: GARDEN_NAMESPACE },
      provider: { type: p },
      credentialsRef: { apiVersion: 'v1', kind: 'Secret', name: `${p}-credentials`, namespace: GARDEN_NAMESPACE },
    });
  }

  const unmanaged = plan.seeds.filter((s) => !s.parent);
  const managed = plan.seeds.filter((s) => s.parent);
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
      const host: PlannedShoot = {
        name: s.managedSeedShoot!,
        namespace: GARDEN_NAMESPACE,
        project: 'garden',
        seed: s.parent!,
        provider: s.provider,
        region: s.region,
        purpose: 'infrastructure',
        hibernated: false,
        health: 'healthy',
      };
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

/** Runs `write` again while Gardener's admission forbids it (403), up to 20 times, 250 ms apart. */
async function retryWhileForbidden(write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (statusCode(err) !== 403 || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const anyObject = z.looseObject({ metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }) });

/**
 * Deletes everything a landscape created (shoots first, with Gardener's deletion confirmation). Shared objects
 * (registrations, the garden project) stay.
 */
export async function deleteLandscape(client: KubeClient, prefix: string, concurrency = 24): Promise<void> {
  const selector = `${LABEL_LANDSCAPE}=${prefix}`;
  const confirm = { metadata: { annotations: { [ANNOTATION_CONFIRM_DELETION]: 'true' } } };
  // Gardener's admission enforces the order: a ManagedSeed goes only once no shoot uses its seed, and a shoot goes
  // only once no ManagedSeed references it. So: workload shoots, ManagedSeeds and Gardenlets, hosting shoots.
  const shoots = await client.list(RESOURCES.shoots, anyObject, { labelSelector: selector });
  const deleteShoots = async (items: typeof shoots) => {
    await mapLimit(items, concurrency, async (s) => {
      await client.patch(RESOURCES.shoots, s.metadata.name, confirm, s.metadata.namespace);
      await retryWhileForbidden(() => client.delete(RESOURCES.shoots, s.metadata.name, s.metadata.namespace));
    });
    // With Gardener's controllers in the garden a shoot carries the finalizer core.gardener.cloud/controllerregistration
    // (controllerregistration/clusterfinalizer) and goes a moment after its deletion; until then admission refuses
    // to delete its seed or ManagedSeed.
    // At landscape scale that takes a while: give up only after 60 s without progress.
    const keys = new Set(items.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
    let end = Date.now() + 60_000;
    let before = keys.size;
    while (keys.size) {
      const left = (await client.list(RESOURCES.shoots, anyObject, { labelSelector: selector })).filter((s) => keys.has(`${s.metadata.namespace}/${s.metadata.name}`));
      if (!left.length) break;
      if (left.length < before) [before, end] = [left.length, Date.now() + 60_000];
      if (Date.now() > end) throw new Error(`${left.length} shoots of landscape ${prefix} still there 60s after the last one went`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await deleteShoots(shoots.filter((s) => s.metadata.namespace !== GARDEN_NAMESPACE));
  for (const rt of [RESOURCES.managedSeeds, RESOURCES.gardenlets]) {
    const items = await client.list(rt, anyObject, { labelSelector: selector });
    // the ManagedSeed admission plugin reads shoots from gardener-apiserver's informer, which may not have seen the
    // deletions yet ("still used by shoot(s)"): try again, a bounded number of times
    await mapLimit(items, concurrency, (o) => retryWhileForbidden(() => client.delete(rt, o.metadata.name, o.metadata.namespace)));
  }
  await deleteShoots(shoots.filter((s) => s.metadata.namespace === GARDEN_NAMESPACE));
  // gardener-controller-manager deletes the installations of a seed being deleted and lets the seed go once none
  // is left; gardenlet releases its finalizer on them, which a stopped simulator no longer does: this does it
  const seeds = await client.list(RESOURCES.seeds, anyObject, { labelSelector: selector });
  const seedNames = new Set(seeds.map((o) => o.metadata.name));
  await mapLimit(seeds, concurrency, (o) => client.delete(RESOURCES.seeds, o.metadata.name));
  const end = Date.now() + 60_000;
  for (;;) {
    await removeInstallations(client, (i) => seedNames.has(i.spec.seedRef?.name ?? ''), concurrency);
    const left = (await client.list(RESOURCES.seeds, anyObject, { labelSelector: selector })).length;
    if (!left) break;
    if (Date.now() > end) throw new Error(`${left} seeds of landscape ${prefix} not gone 60s after their deletion`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const projects = await client.list(RESOURCES.projects, anyObject, { labelSelector: selector });
  await mapLimit(projects, concurrency, async (o) => {
    await client.patch(RESOURCES.projects, o.metadata.name, confirm);
    await client.delete(RESOURCES.projects, o.metadata.name);
  });
  const profiles = await client.list(RESOURCES.cloudProfiles, anyObject, { labelSelector: selector });
  await mapLimit(profiles, concurrency, (o) => client.delete(RESOURCES.cloudProfiles, o.metadata.name));
}
