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
 * gardenlet's conditions on a ControllerInstallation whose deployment revision changed: Progressing goes True
 * (ControllerNotRolledOut) and the others stay as they are; a fresh installation starts Valid and not yet Installed.
 */
export function installationProgressingConditions(existing: readonly Condition[] | undefined, now: Date): Condition[] {
  const ts = now.toISOString();
  const kept = (existing ?? []).filter((c) => c.type !== 'Progressing');
  const has = (type: string) => kept.some((c) => c.type === type);
  return [
    ...(has('Valid') ? [] : [condition('Valid', 'True', 'RegistrationValid', 'chart could be rendered successfully.', ts)]),
    ...(has('Installed') ? [] : [condition('Installed', 'False', 'InstallationPending', 'Installation of new resources is pending.', ts)]),
    ...kept,
    condition('Progressing', 'True', 'ControllerNotRolledOut', 'The controller is being rolled out.', ts),
  ];
}

/** gardenlet's conditions once the installation's chart is applied and its controller rolled out (or failing). */
export function installationDoneConditions(healthy: boolean, now: Date): Condition[] {
  const ts = now.toISOString();
  return [
    condition('Valid', 'True', 'RegistrationValid', 'chart could be rendered successfully.', ts),
    condition('Installed', 'True', 'InstallationSuccessful', 'Installation of new resources succeeded.', ts),
    healthy
      ? condition('Healthy', 'True', 'ControllerHealthy', 'The controller is healthy.', ts)
      : condition('Healthy', 'False', 'ControllerNotHealthy', 'The controller is not healthy (simulated).', ts),
    condition('Progressing', 'False', 'ControllerRolledOut', 'The controller has been rolled out successfully.', ts),
  ];
}
