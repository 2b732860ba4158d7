// A landscape fixture, planned: a typed description of a Gardener landscape (providers, regions, seeds, managed
// seeds, projects, shoots) and its plan, computed purely and deterministically. landscape-create.ts creates a plan
// through the real garden API, status included, and landscape-delete.ts removes it. Used by integration tests,
// benchmarks and the local demo.
//
// Isolation: every object a landscape owns carries the label LABEL_LANDSCAPE=<prefix>, and every cluster-scoped
// name starts with the prefix, so several landscapes can share one garden. Extension registrations are keyed by
// type and shared: Gardener allows only one primary registration per kind/type.
import type { ShootHealth } from './status.js';

export const LABEL_LANDSCAPE = 'landscape.canary.gardener.cloud/name';
export const GARDEN_NAMESPACE = 'garden';

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

/** A managed seed: hosted by a shoot in `garden` on its parent seed. */
export type PlannedManagedSeed = PlannedSeed & Required<Pick<PlannedSeed, 'parent' | 'managedSeedShoot'>>;

export function isManagedSeed(seed: PlannedSeed): seed is PlannedManagedSeed {
  return seed.parent !== undefined && seed.managedSeedShoot !== undefined;
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

/** The i-th item, counting round the list: the plan cycles through projects, providers and purposes. */
function nth<T>(items: readonly T[], i: number): T {
  const item = items[i % items.length];
  if (item === undefined) throw new Error('a landscape plan cannot cycle through an empty list');
  return item;
}

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
        unmanaged.find((u) => u.provider === s.provider && u.region === s.region) ?? unmanaged.find((u) => u.provider === s.provider) ?? nth(unmanaged, 0);
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
    providers: perProvider ? [nth(providerTypes, i)] : providerTypes,
  }));
  const projectsFor = new Map(providerTypes.map((t) => [t, projects.filter((p) => p.providers.includes(t))]));
  const shoots: PlannedShoot[] = [];
  let n = 0;
  let awake = 0;
  for (const seed of seeds) {
    const candidates = projectsFor.get(seed.provider) ?? [];
    const profile = profileOf.get(seed.name);
    for (let j = 0; j < (profile?.shoots ?? spec.shootsPerSeed); j++, n++) {
      const project = nth(candidates, n);
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
        purpose: profile ? nth(profile.purposes, j) : nth(PURPOSES, n),
        hibernated,
        health,
        ...(errorCodes ? { errorCodes } : {}),
      });
    }
  }
  return { spec, seeds, projects, shoots };
}
