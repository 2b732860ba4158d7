// The subset of Gardener's API that this controller reads and writes, as zod schemas. Objects are parsed
// loosely: unknown fields pass through untouched, so a newer Gardener never breaks parsing, and a field
// we rely on that is missing or mistyped fails at the edge with a clear message.
// Field semantics: ../shared/reference/gardener.md and gardener/gardener pkg/apis/core/v1beta1/types_*.go.
import * as z from 'zod';

export const ObjectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.looseObject({ kind: z.string(), name: z.string() })).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/**
 * A value Gardener may extend in a later release: the known ones are named for the reader, any other string passes,
 * so an object with a new value is read (and judged by the engine's rules for unknown values) instead of being
 * dropped from the cache. Gardener v1.150 added LastOperationType LiveMigrate (pkg/apis/core/v1beta1/types_common.go).
 */
const openEnum = <const T extends readonly [string, ...string[]]>(known: T) => z.union([z.enum(known), z.string()]);

export const ConditionStatus = openEnum(['True', 'False', 'Unknown', 'Progressing']);
export type ConditionStatus = z.infer<typeof ConditionStatus>;

/** gardencorev1beta1.Condition */
export const Condition = z.looseObject({
  type: z.string(),
  status: ConditionStatus,
  lastTransitionTime: z.string().optional(),
  lastUpdateTime: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  codes: z.array(z.string()).optional(),
});
export type Condition = z.infer<typeof Condition>;

export const LastOperationType = openEnum(['Create', 'Reconcile', 'Delete', 'Migrate', 'Restore', 'LiveMigrate']);
export const LastOperationState = openEnum(['Processing', 'Succeeded', 'Error', 'Failed', 'Pending', 'Aborted']);
export const LastOperation = z.looseObject({
  type: LastOperationType,
  state: LastOperationState,
  progress: z.number().int().optional(),
  lastUpdateTime: z.string().optional(),
  description: z.string().optional(),
});
export type LastOperation = z.infer<typeof LastOperation>;

export const LastError = z.looseObject({
  description: z.string(),
  codes: z.array(z.string()).optional(),
  taskID: z.string().optional(),
  lastUpdateTime: z.string().optional(),
});
export type LastError = z.infer<typeof LastError>;

export const Gardener = z.looseObject({ id: z.string().optional(), name: z.string().optional(), version: z.string().optional() });

// ---------------------------------------------------------------------------------------------------------
// Seed (core.gardener.cloud/v1beta1, cluster-scoped)

export const Seed = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({
    provider: z.looseObject({ type: z.string(), region: z.string(), zones: z.array(z.string()).optional() }),
  }),
  status: z
    .looseObject({
      gardener: Gardener.optional(),
      conditions: z.array(Condition).optional(),
      lastOperation: LastOperation.optional(),
      observedGeneration: z.number().int().optional(),
      kubernetesVersion: z.string().optional(),
    })
    .optional(),
});
export type Seed = z.infer<typeof Seed>;

// ---------------------------------------------------------------------------------------------------------
// Shoot (core.gardener.cloud/v1beta1, namespaced)

export const Shoot = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({
    seedName: z.string().optional(),
    purpose: z.string().optional(),
    provider: z.looseObject({ type: z.string() }),
    region: z.string().optional(),
    hibernation: z.looseObject({ enabled: z.boolean().optional() }).optional(),
    /** confineSpecUpdateRollout: the owner confines updates (and gardenlet its regular reconciles) to the time window. */
    maintenance: z
      .looseObject({
        confineSpecUpdateRollout: z.boolean().optional(),
        timeWindow: z.looseObject({ begin: z.string(), end: z.string() }).optional(),
      })
      .optional(),
  }),
  status: z
    .looseObject({
      seedName: z.string().optional(),
      gardener: Gardener.optional(),
      conditions: z.array(Condition).optional(),
      constraints: z.array(Condition).optional(),
      lastOperation: LastOperation.optional(),
      lastErrors: z.array(LastError).optional(),
      hibernated: z.boolean().optional(),
      observedGeneration: z.number().int().optional(),
    })
    .optional(),
});
export type Shoot = z.infer<typeof Shoot>;

// ---------------------------------------------------------------------------------------------------------
// Extensions: ControllerRegistration (v1beta1), ControllerDeployment (v1), ControllerInstallation (v1beta1)

export const HelmOCIRepository = z.looseObject({
  ref: z.string().optional(),
  repository: z.string().optional(),
  tag: z.string().optional(),
  digest: z.string().optional(),
});
export type HelmOCIRepository = z.infer<typeof HelmOCIRepository>;

export const ControllerDeployment = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  helm: z
    .looseObject({
      rawChart: z.string().optional(),
      values: z.unknown().optional(),
      ociRepository: HelmOCIRepository.optional(),
    })
    .optional(),
});
export type ControllerDeployment = z.infer<typeof ControllerDeployment>;

export const ControllerResource = z.looseObject({
  kind: z.string(),
  type: z.string(),
  primary: z.boolean().optional(),
  globallyEnabled: z.boolean().optional(),
});
export const ControllerRegistration = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({
    resources: z.array(ControllerResource).optional(),
    deployment: z
      .looseObject({
        deploymentRefs: z.array(z.looseObject({ name: z.string() })).optional(),
        policy: z.string().optional(),
        seedSelector: z
          .looseObject({
            matchLabels: z.record(z.string(), z.string()).optional(),
            matchExpressions: z.array(z.looseObject({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() })).optional(),
          })
          .optional(),
      })
      .optional(),
  }),
});
export type ControllerRegistration = z.infer<typeof ControllerRegistration>;

export const ControllerInstallation = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({
    registrationRef: z.looseObject({ name: z.string() }),
    seedRef: z.looseObject({ name: z.string() }).optional(),
    /** gardener-controller-manager writes the ControllerDeployment's resourceVersion here: the revision installed. */
    deploymentRef: z.looseObject({ name: z.string(), resourceVersion: z.string().optional() }).optional(),
  }),
  status: z.looseObject({ conditions: z.array(Condition).optional() }).optional(),
});
export type ControllerInstallation = z.infer<typeof ControllerInstallation>;

// ---------------------------------------------------------------------------------------------------------
// seedmanagement.gardener.cloud/v1alpha1: Gardenlet (unmanaged seeds) and ManagedSeed, both in `garden`

export const GardenletDeployment = z.looseObject({
  helm: z.looseObject({ ociRepository: HelmOCIRepository }).optional(),
});
export const Gardenlet = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({ deployment: GardenletDeployment.optional(), config: z.unknown().optional() }),
  status: z
    .looseObject({ observedGeneration: z.number().int().optional(), conditions: z.array(Condition).optional() })
    .optional(),
});
export type Gardenlet = z.infer<typeof Gardenlet>;

export const ManagedSeed = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: ObjectMeta,
  spec: z.looseObject({
    shoot: z.looseObject({ name: z.string() }).optional(),
    gardenlet: z.looseObject({ deployment: GardenletDeployment.optional(), config: z.unknown().optional() }).optional(),
  }),
  status: z.looseObject({ observedGeneration: z.number().int().optional(), conditions: z.array(Condition).optional() }).optional(),
});
export type ManagedSeed = z.infer<typeof ManagedSeed>;

// ---------------------------------------------------------------------------------------------------------
// Well-known names (reference/gardener.md)

/** Label that gardener-controller-manager maintains on every Shoot: healthy | progressing | unhealthy | unknown. */
export const LABEL_SHOOT_STATUS = 'shoot.gardener.cloud/status';
/** Shoot annotation that makes gardenlet skip reconciliations of a shoot until removed. */
export const ANNOTATION_EMERGENCY_STOP = 'shoot.gardener.cloud/emergency-stop-reconciliations';
/** Gardener's one-shot operation annotation (e.g. reconcile) on Shoots and Seeds. */
export const ANNOTATION_GARDENER_OPERATION = 'gardener.cloud/operation';
/** Shoot and Project deletion needs this confirmation annotation (DeletionConfirmation admission plugin). */
export const ANNOTATION_CONFIRM_DELETION = 'confirmation.gardener.cloud/deletion';
/**
 * gardener-operator rewrites the chart ref of every Gardenlet with this label set to "true" to its own version's chart,
 * on each Garden reconcile (pkg/operator/controller/garden/garden/reconciler_reconcile.go, updateHelmChartRefForGardenlets;
 * the name: pkg/apis/operator/v1alpha1/constants.go).
 */
export const LABEL_GARDENLET_AUTO_UPDATE = 'operator.gardener.cloud/auto-update-gardenlet-helm-chart-ref';
/**
 * gardener-operator publishes gardener-apiserver's version here (reconcileGardenerInfoConfigMap in the same file), and
 * every gardenlet reads it at start-up to check the version skew (pkg/gardenlet/bootstrappers/verify_version.go).
 * Every authenticated user may read it (pkg/component/garden/system/virtual/virtual.go).
 */
export const GARDENER_INFO = { namespace: 'gardener-system-public', name: 'gardener-info', key: 'gardenerAPIServer' } as const;
/** gardener-resource-manager's annotation on every object it manages: `[<cluster>:]<namespace>/<ManagedResource>`. */
export const ANNOTATION_GRM_ORIGIN = 'resources.gardener.cloud/origin';
/** gardener-resource-manager's label on every object it manages (value "gardener" by default). */
export const LABEL_GRM_MANAGED_BY = 'resources.gardener.cloud/managed-by';
/** On a ManagedResource: gardener-resource-manager skips it entirely (no reconciliation, no deletion of its objects). */
export const ANNOTATION_GRM_IGNORE = 'resources.gardener.cloud/ignore';

export const SHOOT_CONDITION_TYPES = [
  'APIServerAvailable',
  'ControlPlaneHealthy',
  'ObservabilityComponentsHealthy',
  'EveryNodeReady',
  'SystemComponentsHealthy',
] as const;
/** ControllerInstallation condition types (gardenlet); healthy = Valid, Installed, Healthy True and Progressing False. */
export const INSTALLATION_CONDITION_TYPES = ['Valid', 'Installed', 'Healthy', 'Progressing'] as const;
export const SEED_CONDITION_TYPES = ['GardenletReady', 'SeedSystemComponentsHealthy', 'ExtensionsReady', 'BackupBucketsReady'] as const;
