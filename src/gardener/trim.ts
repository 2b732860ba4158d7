// What the controller keeps of Gardener objects in its caches: only the fields the engine reads. Shoots are the
// bulk (tens of thousands), so messages, reasons, timestamps of conditions and everything in spec that is not
// placement, hibernation or the owner's confineSpecUpdateRollout are dropped.
import { REFUSED_ON_SEED } from '../engine/health.js';
import { z } from 'zod';
import { ConditionStatus, ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, LastOperationState, LastOperationType, ManagedSeed, Seed, type LastOperation, type Shoot } from './api.js';

/**
 * What trimShoot reads of a raw Shoot, in strip mode: unknown keys are neither validated nor copied (the full
 * schema is loose and copied every managed field, label and spec section first, ~2-8 KB per shoot and watch event).
 * The fields read have the same types as in the Shoot schema.
 */
const ShootInput = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    generation: z.number().int().optional(),
    deletionTimestamp: z.string().optional(),
    annotations: z.object({ 'gardener.cloud/operation': z.string().optional() }).optional(),
  }),
  spec: z.object({
    seedName: z.string().optional(),
    purpose: z.string().optional(),
    provider: z.object({ type: z.string() }),
    hibernation: z.object({ enabled: z.boolean().optional() }).optional(),
    maintenance: z.object({ confineSpecUpdateRollout: z.boolean().optional() }).optional(),
  }),
  status: z
    .object({
      seedName: z.string().optional(),
      gardener: z.object({ version: z.string().optional() }).optional(),
      conditions: z.array(z.object({ type: z.string(), status: ConditionStatus, codes: z.array(z.string()).optional() })).optional(),
      lastOperation: z.object({ type: LastOperationType, state: LastOperationState, lastUpdateTime: z.string().optional(), description: z.string().optional() }).optional(),
      lastErrors: z.array(z.object({ description: z.string(), codes: z.array(z.string()).optional(), lastUpdateTime: z.string().optional() })).optional(),
      hibernated: z.boolean().optional(),
      observedGeneration: z.number().int().optional(),
    })
    .optional(),
});

/**
 * One copy of each of the few distinct values tens of thousands of shoots share (namespaces, seed names, versions,
 * condition types, states, codes), and of the small objects built from them: JSON.parse makes a new string for
 * every value it reads. Bounded: it starts over when it holds this many.
 */
const INTERN_LIMIT = 20_000;
const interned = new Map<string, string>();
const shared = new Map<string, object>();
function intern(v: string): string;
function intern(v: string | undefined): string | undefined;
function intern(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const known = interned.get(v);
  if (known !== undefined) return known;
  if (interned.size >= INTERN_LIMIT) interned.clear();
  interned.set(v, v);
  return v;
}
function sharedObject<T extends object>(key: string, make: () => T): T {
  let o = shared.get(key) as T | undefined;
  if (!o) {
    if (shared.size >= INTERN_LIMIT) shared.clear();
    shared.set(key, (o = Object.freeze(make())));
  }
  return o;
}

/**
 * The cached form of a shoot. Conditions that are True are dropped: the engine reads shoot conditions only for
 * Gardener's ComputeShootStatus, where a True condition never changes the outcome, and for user-error codes of
 * failing conditions (health.ts); a healthy shoot then carries no condition at all.
 */
export function trimShoot(raw: unknown): Shoot | undefined {
  const r = ShootInput.safeParse(raw);
  if (!r.success) return undefined;
  const s = r.data;
  const st = s.status;
  const operation = s.metadata.annotations?.['gardener.cloud/operation'];
  const failing = st?.conditions?.filter((c) => c.status !== 'True');
  return {
    metadata: {
      name: s.metadata.name,
      namespace: intern(s.metadata.namespace),
      ...(s.metadata.generation !== undefined ? { generation: s.metadata.generation } : {}),
      ...(s.metadata.deletionTimestamp ? { deletionTimestamp: s.metadata.deletionTimestamp } : {}),
      ...(operation ? { annotations: sharedObject(`op:${operation}`, () => ({ 'gardener.cloud/operation': operation })) } : {}),
    },
    spec: {
      provider: sharedObject(`provider:${s.spec.provider.type}`, () => ({ type: s.spec.provider.type })),
      ...(s.spec.seedName ? { seedName: intern(s.spec.seedName) } : {}),
      ...(s.spec.purpose ? { purpose: intern(s.spec.purpose) } : {}),
      ...(s.spec.hibernation?.enabled ? { hibernation: HIBERNATION_ENABLED } : {}),
      // whether the owner confines updates to the maintenance window: such shoots are not force-reconciled (desired.ts)
      ...(s.spec.maintenance?.confineSpecUpdateRollout ? { maintenance: CONFINED } : {}),
    },
    ...(st
      ? {
          status: {
            ...(st.seedName ? { seedName: intern(st.seedName) } : {}),
            ...(st.observedGeneration !== undefined ? { observedGeneration: st.observedGeneration } : {}),
            ...(st.gardener?.version ? { gardener: sharedObject(`gardener:${st.gardener.version}`, () => ({ version: st.gardener!.version })) } : {}),
            ...(st.hibernated ? { hibernated: true } : {}),
            ...(st.lastOperation ? { lastOperation: trimOperation(st.lastOperation) } : {}),
            // a lastError's time says whether a retried failure is younger than an extension's release (health.ts)
            ...(st.lastErrors?.length
              ? { lastErrors: st.lastErrors.map((e) => ({ description: '', ...(e.codes?.length ? { codes: e.codes.map((x) => intern(x)) } : {}), ...(e.lastUpdateTime ? { lastUpdateTime: e.lastUpdateTime } : {}) })) }
              : {}),
            ...(failing?.length ? { conditions: failing.map((c) => ({ type: intern(c.type), status: intern(c.status), ...(c.codes?.length ? { codes: c.codes.map((x) => intern(x)) } : {}) })) } : {}),
          },
        }
      : {}),
  };
}

const HIBERNATION_ENABLED = Object.freeze({ enabled: true });
const CONFINED = Object.freeze({ confineSpecUpdateRollout: true });

/** The description is kept only where the engine reads it: a reconcile gardenlet refused to run (health.ts). */
function trimOperation(op: { type: string; state: string; lastUpdateTime?: string | undefined; description?: string | undefined }): LastOperation {
  return {
    type: intern(op.type),
    state: intern(op.state),
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
