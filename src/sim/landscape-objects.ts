// The Gardener objects of a planned landscape, as pure builders: the bodies landscape-create.ts writes to the garden,
// and the chart references of gardenlet and extension versions (with chartVersion, their inverse).
import { HelmOCIRepository } from '../gardener/api.js';
import { SEED_PROVIDER_KINDS } from './installations.js';
import { GARDEN_NAMESPACE, LABEL_LANDSCAPE, type LandscapePlan, type LandscapeSpec, type PlannedManagedSeed, type PlannedSeed, type PlannedShoot } from './landscape-plan.js';

export const GARDENLET_CHART = 'europe-docker.pkg.dev/gardener-project/releases/charts/gardener/gardenlet';

export const KUBERNETES_VERSION = '1.33.4';
export const MACHINE_IMAGE = { name: 'gardenlinux', version: '1877.5.0' };
export const MACHINE_TYPE = 'm5.large';
export const NETWORK_TYPE = 'calico';

/** gardener-controller-manager's finalizer on shoots and seeds that extensions may still need (clusterfinalizer). */
export const CONTROLLER_REGISTRATION_FINALIZER = 'core.gardener.cloud/controllerregistration';

export function landscapeLabels(spec: LandscapeSpec): Record<string, string> {
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

/** The CloudProfile of one provider: the landscape's Kubernetes version, machine image and type, its regions. */
export function cloudProfileSpec(provider: { type: string; regions: readonly string[] }) {
  return {
    type: provider.type,
    kubernetes: { versions: [{ version: KUBERNETES_VERSION }] },
    machineImages: [{ name: MACHINE_IMAGE.name, versions: [{ version: MACHINE_IMAGE.version, cri: [{ name: 'containerd' }], architectures: ['amd64'] }] }],
    machineTypes: [{ name: MACHINE_TYPE, cpu: '2', gpu: '0', memory: '8Gi', usable: true, architecture: 'amd64' }],
    regions: provider.regions.map((name) => ({ name, zones: [{ name: `${name}a` }] })),
  };
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
export function gardenletConfig(spec: LandscapeSpec, seed: PlannedSeed) {
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

export function extensionChartRef(name: string, version: string): string {
  return `europe-docker.pkg.dev/gardener-project/releases/charts/gardener/extensions/${name}:${version}`;
}

/** Version named by a chart reference: the tag of a ref or the tag field. */
export function chartVersion(oci: { ref?: string | undefined; tag?: string | undefined } | undefined): string | undefined {
  if (!oci) return undefined;
  if (oci.tag) return oci.tag;
  const m = /:([^:/@]+)(@sha256:[a-f0-9]+)?$/.exec(oci.ref ?? '');
  return m?.[1];
}

/** The chart version of helm content (tag of the OCI ref), as the simulated ControllerDeployments hold it. */
export function helmVersion(helm: Record<string, unknown> | undefined): string | undefined {
  return chartVersion(HelmOCIRepository.safeParse(helm?.ociRepository).data);
}

/** The shoot in `garden` that hosts a managed seed, on the seed's parent. */
export function managedSeedHost(seed: PlannedManagedSeed): PlannedShoot {
  return {
    name: seed.managedSeedShoot,
    namespace: GARDEN_NAMESPACE,
    project: 'garden',
    seed: seed.parent,
    provider: seed.provider,
    region: seed.region,
    purpose: 'infrastructure',
    hibernated: false,
    health: 'healthy',
  };
}

export function shootSpec(plan: LandscapePlan, shoot: PlannedShoot) {
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
      // a provider extension handles every kind a seed of its type has
      resources: SEED_PROVIDER_KINDS.map((kind) => ({ kind, type })),
    })),
    { name: `networking-${NETWORK_TYPE}`, resources: [{ kind: 'Network', type: NETWORK_TYPE }] },
    { name: `os-${MACHINE_IMAGE.name}`, resources: [{ kind: 'OperatingSystemConfig', type: MACHINE_IMAGE.name }] },
  ];
}
