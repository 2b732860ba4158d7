// gardenlet's view of ControllerInstallations, as pure functions over plain objects: which kind/types a seed's
// extension objects have (for the Required condition) and which registrations the simulator plays for. Gardener's
// own controllers (gardenenv --controllers controllerregistration) create, repoint and delete the installations.
import * as z from 'zod';
import { Shoot, type ControllerRegistration, type Seed } from '../gardener/api.js';

/** gardenlet's finalizer on the installations it deployed (pkg/gardenlet/controller/controllerinstallation/controllerinstallation). */
export const GARDENLET_INSTALLATION_FINALIZER = 'core.gardener.cloud/controllerinstallation';

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

/** Registrations the simulator plays for: the named ones and the controller's temporary `<name>-canary` ones. */
export function isHandledRegistration(name: string, handled: readonly string[]): boolean {
  return handled.some((h) => name === h || name.startsWith(`${h}-canary`));
}

export function shootSeedName(shoot: Pick<ExtensionShoot, 'spec' | 'status'>): string | undefined {
  return shoot.status?.seedName ?? shoot.spec.seedName;
}

const SHOOT_PROVIDER_KINDS = ['Infrastructure', 'ControlPlane', 'Worker'];
/** The provider kinds a seed's extension objects have, of the seed's provider type (and a provider registration covers). */
export const SEED_PROVIDER_KINDS = ['ControlPlane', 'Infrastructure', 'Worker', 'DNSRecord', 'BackupBucket', 'BackupEntry'];
const kindType = (kind: string, type: string) => `${kind}/${type}`;

/** The extension kind/types a seed's extension objects have, for itself and the shoots it hosts, as `kind/type` keys. */
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

/** neededKindTypes for every seed, from the shoots scheduled there (status first, then spec) that are not being deleted. */
export function neededKindTypesBySeed(seeds: readonly Seed[], shoots: readonly ExtensionShoot[]): Map<string, Set<string>> {
  const bySeed = new Map<string, ExtensionShoot[]>();
  for (const sh of shoots) {
    const seed = shootSeedName(sh);
    if (seed && !sh.metadata.deletionTimestamp) bySeed.set(seed, [...(bySeed.get(seed) ?? []), sh]);
  }
  return new Map(seeds.map((seed) => [seed.metadata.name, neededKindTypes(seed, bySeed.get(seed.metadata.name) ?? [])]));
}

/** The registration's kind/types that extension objects in the seed have (gardenlet's required controller). */
export function requiredKindTypes(reg: Pick<ControllerRegistration, 'spec'> | undefined, needed: ReadonlySet<string> | undefined): string[] {
  return (reg?.spec.resources ?? []).map((r) => kindType(r.kind, r.type)).filter((k) => needed?.has(k));
}
