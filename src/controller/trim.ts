// What the controller keeps of Gardener objects in its caches: only the fields the engine reads. Shoots are the
// bulk (tens of thousands), so messages, reasons, timestamps of conditions and everything in spec that is not
// placement or hibernation are dropped.
import { REFUSED_ON_SEED } from '../engine/health.js';
import { ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, ManagedSeed, Seed, Shoot, type LastOperation } from '../gardener/api.js';

export function trimShoot(raw: unknown): Shoot | undefined {
  const r = Shoot.safeParse(raw);
  if (!r.success) return undefined;
  const s = r.data;
  const st = s.status;
  return {
    metadata: {
      name: s.metadata.name,
      namespace: s.metadata.namespace,
      ...(s.metadata.generation !== undefined ? { generation: s.metadata.generation } : {}),
      ...(s.metadata.deletionTimestamp ? { deletionTimestamp: s.metadata.deletionTimestamp } : {}),
      ...(s.metadata.annotations?.['gardener.cloud/operation'] ? { annotations: { 'gardener.cloud/operation': s.metadata.annotations['gardener.cloud/operation'] } } : {}),
    },
    spec: {
      provider: { type: s.spec.provider.type },
      ...(s.spec.seedName ? { seedName: s.spec.seedName } : {}),
      ...(s.spec.purpose ? { purpose: s.spec.purpose } : {}),
      ...(s.spec.hibernation?.enabled ? { hibernation: { enabled: true } } : {}),
    },
    ...(st
      ? {
          status: {
            ...(st.seedName ? { seedName: st.seedName } : {}),
            ...(st.observedGeneration !== undefined ? { observedGeneration: st.observedGeneration } : {}),
            ...(st.gardener?.version ? { gardener: { version: st.gardener.version } } : {}),
            ...(st.hibernated ? { hibernated: true } : {}),
            ...(st.lastOperation ? { lastOperation: trimOperation(st.lastOperation) } : {}),
            // a lastError's time says whether a retried failure is younger than an extension's release (health.ts)
            ...(st.lastErrors?.length
              ? { lastErrors: st.lastErrors.map((e) => ({ description: '', ...(e.codes?.length ? { codes: e.codes } : {}), ...(e.lastUpdateTime ? { lastUpdateTime: e.lastUpdateTime } : {}) })) }
              : {}),
            ...(st.conditions ? { conditions: st.conditions.map((c) => ({ type: c.type, status: c.status, ...(c.codes?.length ? { codes: c.codes } : {}) })) } : {}),
          },
        }
      : {}),
  };
}

/** The description is kept only where the engine reads it: a reconcile gardenlet refused to run (health.ts). */
function trimOperation(op: LastOperation): LastOperation {
  return {
    type: op.type,
    state: op.state,
    ...(op.lastUpdateTime ? { lastUpdateTime: op.lastUpdateTime } : {}),
    ...(op.description?.startsWith(REFUSED_ON_SEED) ? { description: REFUSED_ON_SEED } : {}),
  };
}

export const parseSeed = (raw: unknown): Seed | undefined => Seed.safeParse(raw).data;
export const parseGardenlet = (raw: unknown): Gardenlet | undefined => Gardenlet.safeParse(raw).data;
export const parseManagedSeed = (raw: unknown): ManagedSeed | undefined => ManagedSeed.safeParse(raw).data;
export const namespacedKey = (o: { metadata: { name: string; namespace?: string | undefined } }): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
export const parseRegistration = (raw: unknown): ControllerRegistration | undefined => ControllerRegistration.safeParse(raw).data;
export const parseDeployment = (raw: unknown): ControllerDeployment | undefined => ControllerDeployment.safeParse(raw).data;

/** Installations are seeds x extensions (thousands): keep refs, the installed revision and condition states. */
export function trimInstallation(raw: unknown): ControllerInstallation | undefined {
  const r = ControllerInstallation.safeParse(raw);
  if (!r.success) return undefined;
  const { metadata, spec, status } = r.data;
  return {
    metadata: { name: metadata.name, ...(metadata.resourceVersion ? { resourceVersion: metadata.resourceVersion } : {}) },
    spec: {
      registrationRef: { name: spec.registrationRef.name },
      ...(spec.seedRef ? { seedRef: { name: spec.seedRef.name } } : {}),
      ...(spec.deploymentRef
        ? { deploymentRef: { name: spec.deploymentRef.name, ...(spec.deploymentRef.resourceVersion ? { resourceVersion: spec.deploymentRef.resourceVersion } : {}) } }
        : {}),
    },
    ...(status?.conditions
      ? {
          status: {
            conditions: status.conditions.map((c) => ({
              type: c.type,
              status: c.status,
              ...(c.lastTransitionTime ? { lastTransitionTime: c.lastTransitionTime } : {}),
              ...(c.lastUpdateTime ? { lastUpdateTime: c.lastUpdateTime } : {}),
            })),
          },
        }
      : {}),
  };
}
