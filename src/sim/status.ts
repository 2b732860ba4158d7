// Status objects as Gardener's controllers write them. The landscape fixtures and the simulator use these to
// play gardenlet and gardener-controller-manager through the real API (status subresource writes).
import { LABEL_SHOOT_STATUS, SEED_CONDITION_TYPES, SHOOT_CONDITION_TYPES, type Condition, type ConditionStatus } from '../gardener/api.js';

export type ShootHealth = 'healthy' | 'progressing' | 'unknown' | 'unhealthy';

/** gardenlet's identity as written to status.gardener of Seeds and Shoots. */
export function gardenerIdentity(seedName: string, version: string) {
  return { id: `gardenlet-${seedName}-${version}`, name: `gardenlet-${seedName}`, version };
}

function condition(type: string, status: ConditionStatus, reason: string, message: string, now: string, codes?: string[]): Condition {
  return { type, status, reason, message, lastTransitionTime: now, lastUpdateTime: now, ...(codes?.length ? { codes } : {}) };
}

export interface ShootStatusInput {
  seedName: string;
  gardenerVersion: string;
  health: ShootHealth;
  hibernated?: boolean;
  /** Error codes on lastErrors/conditions of an unhealthy shoot, e.g. ERR_INFRA_QUOTA_EXCEEDED (user errors). */
  errorCodes?: string[];
  lastOperationType?: 'Create' | 'Reconcile';
  /** Processing leaves the last operation unfinished (a reconcile in flight). */
  lastOperationState?: 'Succeeded' | 'Processing' | 'Error' | 'Failed';
  generation?: number;
  now: Date;
}

/**
 * The status gardenlet and the care controller would leave on a shoot with the given health. Hibernated shoots
 * carry all conditions True with reason ConditionNotChecked, as gardenlet's care controller writes them.
 */
export function shootStatus(input: ShootStatusInput) {
  const now = input.now.toISOString();
  const failing = input.health === 'unhealthy';
  const condStatus: ConditionStatus =
    input.health === 'healthy' ? 'True' : input.health === 'progressing' ? 'Progressing' : input.health === 'unknown' ? 'Unknown' : 'False';
  const conditions = SHOOT_CONDITION_TYPES.map((type, i) => {
    if (input.hibernated) return condition(type, 'True', 'ConditionNotChecked', 'Shoot cluster is hibernated', now);
    // Only the first two conditions carry a non-healthy status: a realistic partial failure.
    const status = i < 2 ? condStatus : 'True';
    return condition(type, status, status === 'True' ? `${type}OK` : `${type}Failing`, `${type} is ${status}`, now, status === 'False' ? input.errorCodes : undefined);
  });
  const state = input.lastOperationState ?? (failing ? 'Error' : 'Succeeded');
  return {
    seedName: input.seedName,
    gardener: gardenerIdentity(input.seedName, input.gardenerVersion),
    hibernated: input.hibernated ?? false,
    observedGeneration: input.generation ?? 1,
    technicalID: `shoot--${input.seedName}`,
    conditions,
    constraints: [condition('HibernationPossible', 'True', 'HibernationPossible', 'Hibernation possible', now)],
    lastOperation: {
      type: input.lastOperationType ?? 'Reconcile',
      state,
      progress: state === 'Succeeded' ? 100 : 50,
      lastUpdateTime: now,
      description: state === 'Succeeded' ? 'Shoot cluster has been successfully reconciled.' : 'Reconciliation in progress or failed.',
    },
    ...(failing
      ? { lastErrors: [{ description: 'task failed (simulated)', taskID: 'Deploy control plane', codes: input.errorCodes ?? [], lastUpdateTime: now }] }
      : {}),
  };
}

/** The `shoot.gardener.cloud/status` label value gardener-controller-manager derives for this status. */
export function shootStatusLabel(health: ShootHealth, hibernated = false): Record<string, string> {
  return { [LABEL_SHOOT_STATUS]: hibernated ? 'healthy' : health };
}

export interface SeedStatusInput {
  seedName: string;
  gardenerVersion: string;
  ready: boolean;
  generation: number;
  now: Date;
  kubernetesVersion?: string;
}

/** Status of a seed as gardenlet and gardener-controller-manager maintain it. */
export function seedStatus(input: SeedStatusInput) {
  const now = input.now.toISOString();
  const s: ConditionStatus = input.ready ? 'True' : 'False';
  return {
    gardener: gardenerIdentity(input.seedName, input.gardenerVersion),
    kubernetesVersion: input.kubernetesVersion ?? '1.33.4',
    observedGeneration: input.generation,
    clusterIdentity: `seed-${input.seedName}`,
    conditions: SEED_CONDITION_TYPES.map((type) => condition(type, type === 'BackupBucketsReady' ? 'True' : s, input.ready ? `${type}OK` : `${type}Failing`, `${type} is ${s}`, now)),
    lastOperation: {
      type: 'Reconcile',
      state: input.ready ? 'Succeeded' : 'Error',
      progress: input.ready ? 100 : 50,
      lastUpdateTime: now,
      description: input.ready ? 'Seed cluster has been successfully reconciled.' : 'Seed reconciliation failed (simulated).',
    },
  };
}

/**
 * A condition as pkg/apis/core/v1beta1/helper (UpdatedConditionWithClock) updates it: lastTransitionTime moves only
 * when the status changes, lastUpdateTime only when status, reason or message do.
 */
export function updatedCondition(old: Condition | undefined, type: string, status: ConditionStatus, reason: string, message: string, now: Date): Condition {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z'); // metav1.Time: seconds
  const transition = !old || old.status !== status;
  const update = transition || old.reason !== reason || old.message !== message;
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: transition ? ts : (old.lastTransitionTime ?? ts),
    lastUpdateTime: update ? ts : (old.lastUpdateTime ?? ts),
  };
}

/** v1beta1helper.MergeConditions: each update replaces the condition of its type in place, new types are appended. */
export function mergeConditions(existing: readonly Condition[] | undefined, ...updates: Condition[]): Condition[] {
  const out = [...(existing ?? [])];
  for (const u of updates) {
    const i = out.findIndex((c) => c.type === u.type);
    if (i >= 0) out[i] = u;
    else out.push(u);
  }
  return out;
}

const find = (conditions: readonly Condition[] | undefined, type: string) => conditions?.find((c) => c.type === type);

/**
 * What gardenlet's installation controller writes when it applies a new deployment revision
 * (pkg/gardenlet/controller/controllerinstallation/controllerinstallation/reconciler.go): Valid True once the chart
 * renders; Installed False "InstallationPending" only while it has never been set, so an installed controller stays
 * Installed True across revisions, with its old timestamps. It writes no Progressing: that is the care
 * controller's, on its next sync (installationRollingOutConditions).
 */
export function installationApplyingConditions(existing: readonly Condition[] | undefined, managedResource: string, now: Date): Condition[] {
  const installed = find(existing, 'Installed');
  return mergeConditions(
    existing,
    updatedCondition(find(existing, 'Valid'), 'Valid', 'True', 'RegistrationValid', 'chart could be rendered successfully.', now),
    ...(!installed || installed.status === 'Unknown'
      ? [updatedCondition(installed, 'Installed', 'False', 'InstallationPending', `Installation of ManagedResource "${managedResource}" is still pending.`, now)]
      : []),
  );
}

/**
 * The care controller's view while the ManagedResource of a new revision still rolls out
 * (pkg/gardenlet/controller/controllerinstallation/care/reconciler.go): Progressing True. Whether a sync falls into
 * that window is chance: when it does not, no condition changes at all across the revision.
 */
export function installationRollingOutConditions(existing: readonly Condition[] | undefined, managedResource: string, now: Date): Condition[] {
  return mergeConditions(
    existing,
    updatedCondition(find(existing, 'Progressing'), 'Progressing', 'True', 'ControllerNotRolledOut', `ManagedResource "${managedResource}" is progressing: the new revision is being rolled out.`, now),
  );
}

/**
 * The care controller's view once the revision is applied (pkg/gardenlet/controller/controllerinstallation/care/
 * reconciler.go): Installed True, Healthy from the controller's health, Progressing False. It runs again every
 * sync period; with nothing changed it writes nothing new (updatedCondition keeps both timestamps).
 */
export function installationCareConditions(existing: readonly Condition[] | undefined, healthy: boolean, now: Date): Condition[] {
  return mergeConditions(
    existing,
    updatedCondition(find(existing, 'Healthy'), 'Healthy', healthy ? 'True' : 'False', healthy ? 'ControllerHealthy' : 'ControllerNotHealthy', healthy ? 'The controller running in the seed cluster is healthy.' : 'ManagedResource is unhealthy: a deployment of the controller is not ready (simulated).', now),
    updatedCondition(find(existing, 'Installed'), 'Installed', 'True', 'InstallationSuccessful', 'The controller was successfully installed in the seed cluster.', now),
    updatedCondition(find(existing, 'Progressing'), 'Progressing', 'False', 'ControllerRolledOut', 'The controller has been rolled out successfully.', now),
  );
}

/**
 * gardenlet's required controller (pkg/gardenlet/controller/controllerinstallation/required/reconciler.go): Required
 * True while extension objects of the registration's kind/types exist in the seed. gardener-controller-manager keeps
 * an installation that is Required (and whose seedSelector still matches) even when nothing else wants it.
 */
export function installationRequiredCondition(existing: readonly Condition[] | undefined, kindTypes: readonly string[], now: Date): Condition {
  return kindTypes.length
    ? updatedCondition(find(existing, 'Required'), 'Required', 'True', 'ExtensionObjectsExist', `extension objects still exist in the seed: [${kindTypes.join(' ')}]`, now)
    : updatedCondition(find(existing, 'Required'), 'Required', 'False', 'NoExtensionObjects', 'no extension objects exist in the seed having the kind/type combinations the controller is responsible for', now);
}

/** Whether writing `b` would leave the conditions `a` as they are (field by field: the API orders keys its own way). */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[]): boolean {
  const fields = ['type', 'status', 'reason', 'message', 'lastTransitionTime', 'lastUpdateTime'] as const;
  return (a ?? []).length === b.length && b.every((c, i) => fields.every((f) => (a ?? [])[i]?.[f] === c[f]));
}

/**
 * The seed check gardenlet's shoot reconciler runs first (checkSeed in pkg/gardenlet/controller/shoot/shoot/
 * reconciler.go, with pkg/utils/kubernetes/health/seed.go): the refusal's description, or undefined when the seed
 * may host a reconcile. Required True: GardenletReady and SeedSystemComponentsHealthy.
 */
export function seedRefusal(seed: { metadata: { generation?: number | undefined }; status?: { observedGeneration?: number | undefined; conditions?: readonly Condition[] | undefined } | undefined }): string | undefined {
  let cause: string | undefined;
  if ((seed.status?.observedGeneration ?? 0) < (seed.metadata.generation ?? 0)) {
    cause = `seed is not up to date: observed generation outdated (${seed.status?.observedGeneration ?? 0}/${seed.metadata.generation ?? 0})`;
  } else {
    const failing = ['GardenletReady', 'SeedSystemComponentsHealthy'].filter((t) => find(seed.status?.conditions, t)?.status !== 'True');
    if (failing.length) cause = `seed has failing conditions: [${failing.join(' ')}]`;
  }
  return cause && `Shoot cannot be reconciled on seed: ${cause} Operation will be retried.`;
}

interface ShootStatusLike {
  lastErrors?: unknown[] | undefined;
  lastOperation?: { type?: string | undefined; progress?: number | undefined } | undefined;
  [k: string]: unknown;
}

/** patchShootStatusOperationError for a refused reconcile: Error, lastErrors kept, stamped with the seed's gardenlet. */
export function refusedStatus(prev: ShootStatusLike | undefined, seedName: string, version: string, description: string, now: Date) {
  return {
    gardener: gardenerIdentity(seedName, version),
    lastOperation: { type: prev?.lastOperation?.type ?? 'Reconcile', state: 'Error', progress: prev?.lastOperation?.progress ?? 0, description, lastUpdateTime: now.toISOString() },
  };
}

/**
 * The start of a retried reconcile (the operation-start patch in pkg/gardenlet/controller/shoot/shoot/reconciler.go):
 * Processing, the new gardenlet's identity and generation, the previous lastErrors still there.
 */
export function retryingStatus(prev: ShootStatusLike | undefined, seedName: string, version: string, generation: number, now: Date) {
  return {
    gardener: gardenerIdentity(seedName, version),
    observedGeneration: generation,
    lastOperation: { type: prev?.lastOperation?.type ?? 'Reconcile', state: 'Processing', progress: 0, description: 'Reconciliation of Shoot cluster initialized.', lastUpdateTime: now.toISOString() },
    ...(prev?.lastErrors ? { lastErrors: prev.lastErrors } : {}),
  };
}

/**
 * patchShootStatusOperationSuccess: after a successful reconcile the health conditions that are not False turn
 * Progressing until the care controller checks them; a shoot without conditions gets them Progressing.
 */
export function progressingAfterReconcile(prev: readonly Condition[] | undefined, fresh: readonly Condition[]): Condition[] {
  return fresh.map((c) => {
    const old = find(prev, c.type);
    if (old?.status === 'False') return old;
    return { ...(old ?? c), status: 'Progressing' as const, lastUpdateTime: c.lastUpdateTime };
  });
}
