// gardener-controller-manager's ControllerInstallation planning, as pure functions over plain objects, so the
// live simulator can play it through the real API and unit tests can check it without one. What Gardener does
// (reference/gardener.md §3): per seed, the kind/types its shoots and the seed itself need select the OnDemand
// registrations; Always and AlwaysExceptNoShoots registrations come regardless; a registration's seedSelector then
// drops seeds; each remaining (registration, seed) pair has exactly one installation pointing at the current
// revision of the registration's first ControllerDeployment; installations nobody wants any more are deleted.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { LabelSelector } from '../api/v1alpha1.js';
import { matchesSelector } from '../engine/selector.js';
import { Shoot, type ControllerDeployment, type ControllerInstallation, type ControllerRegistration, type Seed } from '../gardener/api.js';
import { LABEL_LANDSCAPE } from './landscape.js';

export const LABEL_REGISTRATION_SPEC_HASH = 'registration-spec-hash';
export const LABEL_SEED_SPEC_HASH = 'seed-spec-hash';
export const LABEL_DEPLOYMENT_HASH = 'deployment-hash';

/** The Shoot fields that decide which extension kind/types a seed needs (the shared schema does not carry them). */
export const ExtensionShoot = Shoot.extend({
  spec: Shoot.shape.spec.extend({
    provider: Shoot.shape.spec.shape.provider.extend({
      workers: z.array(z.looseObject({ machine: z.looseObject({ image: z.looseObject({ name: z.string().optional() }).optional() }).optional() })).optional(),
    }),
    networking: z.looseObject({ type: z.string().optional() }).optional(),
    extensions: z.array(z.looseObject({ type: z.string() })).optional(),
  }),
});
export type ExtensionShoot = z.infer<typeof ExtensionShoot>;

/** One (registration, seed) pair gardener-controller-manager wants installed, with everything its object carries. */
export interface WantedInstallation {
  registration: string;
  seed: string;
  deployment: string;
  /** The ControllerDeployment's metadata.resourceVersion: the revision the installation must point at. */
  resourceVersion: string;
  labels: Record<string, string>;
}

export interface InstallationPlan {
  create: WantedInstallation[];
  patch: { name: string; body: { metadata: { labels: Record<string, string> }; spec: { deploymentRef: { name: string; resourceVersion: string } } } }[];
  delete: string[];
}

/** Registrations the simulator plays for: the named ones and the controller's temporary `<name>-canary` ones. */
export function isHandledRegistration(name: string, handled: readonly string[]): boolean {
  return handled.some((h) => name === h || name.startsWith(`${h}-canary`));
}

/** JSON with sorted object keys: the same value hashes the same whatever order a decoder left its keys in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function shortHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** The `deployment-hash` label: first 16 hex chars of sha256 over the (key-sorted) JSON of the deployment's helm. */
export function deploymentHash(cd: Pick<ControllerDeployment, 'helm'>): string {
  return shortHash(cd.helm ?? {});
}

export function shootSeedName(shoot: Pick<ExtensionShoot, 'spec' | 'status'>): string | undefined {
  return shoot.status?.seedName ?? shoot.spec.seedName;
}

const SHOOT_PROVIDER_KINDS = ['Infrastructure', 'ControlPlane', 'Worker'];
const SEED_PROVIDER_KINDS = ['ControlPlane', 'Infrastructure', 'Worker', 'DNSRecord', 'BackupBucket', 'BackupEntry'];
const kindType = (kind: string, type: string) => `${kind}/${type}`;

/** The extension kind/types a seed needs for itself and for the shoots it hosts, as `kind/type` keys. */
export function neededKindTypes(seed: Pick<Seed, 'spec'>, shootsOnSeed: readonly ExtensionShoot[]): Set<string> {
  const needed = new Set(SEED_PROVIDER_KINDS.map((k) => kindType(k, seed.spec.provider.type)));
  for (const sh of shootsOnSeed) {
    for (const k of SHOOT_PROVIDER_KINDS) needed.add(kindType(k, sh.spec.provider.type));
    if (sh.spec.networking?.type) needed.add(kindType('Network', sh.spec.networking.type));
    for (const w of sh.spec.provider.workers ?? []) if (w.machine?.image?.name) needed.add(kindType('OperatingSystemConfig', w.machine.image.name));
    for (const e of sh.spec.extensions ?? []) needed.add(kindType('Extension', e.type));
  }
  return needed;
}

type RegistrationSelector = NonNullable<NonNullable<ControllerRegistration['spec']['deployment']>['seedSelector']>;
const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/** A registration's seedSelector against seed labels; an operator Kubernetes does not know selects nothing. */
function selectorMatches(labels: Record<string, string> | undefined, selector: RegistrationSelector | undefined): boolean {
  if (!selector) return true;
  if ((selector.matchExpressions ?? []).some((e) => !OPERATORS.has(e.operator))) return false;
  return matchesSelector(labels, selector as LabelSelector);
}

function registrationWanted(reg: ControllerRegistration, needed: ReadonlySet<string>, shootCount: number): boolean {
  switch (reg.spec.deployment?.policy) {
    case 'Always':
      return true;
    case 'AlwaysExceptNoShoots':
      return shootCount > 0;
    default: // OnDemand or unset
      return (reg.spec.resources ?? []).some((r) => needed.has(kindType(r.kind, r.type)));
  }
}

/**
 * Every (registration, seed) pair that should have an installation. `registrations` are the ones to play for
 * (already filtered to the handled ones); seeds and registrations being deleted want nothing; a registration
 * without a deployment reference, or whose ControllerDeployment does not exist, gets no installation.
 */
export function wantedInstallations(
  seeds: readonly Seed[],
  shoots: readonly ExtensionShoot[],
  registrations: readonly ControllerRegistration[],
  deployments: readonly ControllerDeployment[],
  prefix?: string,
): WantedInstallation[] {
  const deploymentByName = new Map(deployments.map((d) => [d.metadata.name, d]));
  const shootsBySeed = new Map<string, ExtensionShoot[]>();
  for (const sh of shoots) {
    const seed = shootSeedName(sh);
    if (seed) shootsBySeed.set(seed, [...(shootsBySeed.get(seed) ?? []), sh]);
  }
  const wanted: WantedInstallation[] = [];
  for (const seed of seeds) {
    if (seed.metadata.deletionTimestamp) continue;
    const here = shootsBySeed.get(seed.metadata.name) ?? [];
    const needed = neededKindTypes(seed, here);
    for (const reg of registrations) {
      if (reg.metadata.deletionTimestamp) continue;
      if (!registrationWanted(reg, needed, here.length)) continue;
      if (!selectorMatches(seed.metadata.labels, reg.spec.deployment?.seedSelector)) continue;
      // Gardener allows one deployment reference and always installs the first.
      const ref = reg.spec.deployment?.deploymentRefs?.[0]?.name;
      const cd = ref ? deploymentByName.get(ref) : undefined;
      if (!cd?.metadata.resourceVersion) continue;
      wanted.push({
        registration: reg.metadata.name,
        seed: seed.metadata.name,
        deployment: cd.metadata.name,
        resourceVersion: cd.metadata.resourceVersion,
        labels: {
          [LABEL_REGISTRATION_SPEC_HASH]: shortHash(reg.spec),
          [LABEL_SEED_SPEC_HASH]: shortHash(seed.spec),
          [LABEL_DEPLOYMENT_HASH]: deploymentHash(cd),
          ...(prefix ? { [LABEL_LANDSCAPE]: prefix } : {}),
        },
      });
    }
  }
  return wanted;
}

const pairKey = (registration: string, seed: string) => `${registration}\n${seed}`;

function outdated(inst: ControllerInstallation, w: WantedInstallation): boolean {
  const ref = inst.spec.deploymentRef;
  if (ref?.name !== w.deployment || ref.resourceVersion !== w.resourceVersion) return true;
  return Object.entries(w.labels).some(([k, v]) => inst.metadata.labels?.[k] !== v);
}

/**
 * What to write so that `existing` matches `wanted`. `existing` are the installations in scope: of handled
 * registrations on the seeds played for; installations are matched by their registration and seed references,
 * never by name (names are generated). Of duplicates for one pair the oldest stays.
 */
export function planInstallations(wanted: readonly WantedInstallation[], existing: readonly ControllerInstallation[]): InstallationPlan {
  const byPair = new Map<string, ControllerInstallation[]>();
  for (const inst of existing) {
    if (inst.metadata.deletionTimestamp) continue; // already going away
    const key = pairKey(inst.spec.registrationRef.name, inst.spec.seedRef?.name ?? '');
    byPair.set(key, [...(byPair.get(key) ?? []), inst]);
  }
  const plan: InstallationPlan = { create: [], patch: [], delete: [] };
  const kept = new Set<string>();
  for (const w of wanted) {
    const key = pairKey(w.registration, w.seed);
    kept.add(key);
    const [first, ...extra] = [...(byPair.get(key) ?? [])].sort(
      (a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name),
    );
    if (!first) plan.create.push(w);
    else if (outdated(first, w)) {
      plan.patch.push({ name: first.metadata.name, body: { metadata: { labels: w.labels }, spec: { deploymentRef: { name: w.deployment, resourceVersion: w.resourceVersion } } } });
    }
    plan.delete.push(...extra.map((i) => i.metadata.name));
  }
  for (const [key, items] of byPair) if (!kept.has(key)) plan.delete.push(...items.map((i) => i.metadata.name));
  return plan;
}

/** The object gardener-controller-manager creates for a wanted pair; the API server generates the name. */
export function installationObject(w: WantedInstallation) {
  return {
    // an empty name lets generateName apply (the client's object type insists on a name field)
    metadata: { name: '', generateName: `${w.registration}-`, labels: w.labels },
    spec: {
      registrationRef: { name: w.registration },
      seedRef: { name: w.seed },
      deploymentRef: { name: w.deployment, resourceVersion: w.resourceVersion },
    },
  };
}
