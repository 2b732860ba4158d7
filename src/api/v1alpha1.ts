// CanaryRollout (canary.gardener.cloud/v1alpha1, cluster-scoped): the single source of truth for the API.
// TypeScript types are inferred from these schemas and the CRD in crds/ is generated from them (npm run crds).
// Descriptions become the CRD's OpenAPI descriptions, so they are what `kubectl explain` shows operators.
// The spec's parts are in target.ts, waves.ts and health-gate.ts, the fields they share in fields.ts.
import * as z from 'zod';
import { LabelSelector, NAME, duration } from './fields.js';
import { HealthGate, OnHalt } from './health-gate.js';
import { immutable, unchangedExcept, withRules } from './rules.js';
import { ExtensionTarget, Target } from './target.js';
import { MAX_WAVES, ShootReconciliation, Waves } from './waves.js';

export const GROUP = 'canary.gardener.cloud';
export const VERSION = 'v1alpha1';
export const KIND = 'CanaryRollout';
export const PLURAL = 'canaryrollouts';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** One-shot operator operation, consumed (removed) by the controller and recorded in status.history. */
export const ANNOTATION_OPERATION = 'canary.gardener.cloud/operation';
/** Optional free-text reason that goes with an operation into the history. */
export const ANNOTATION_REASON = 'canary.gardener.cloud/reason';
export const OPERATIONS = ['pause', 'resume', 'abort', 'promote', 'retry'] as const;
export const Operation = z.enum(OPERATIONS);
export type Operation = z.infer<typeof Operation>;

// Bounds keep CEL cost estimates finite and objects far below etcd's size limit.
export const MAX_HISTORY = 100;

// ---------------------------------------------------------------------------------------------------------
// Spec

export const CanaryRolloutSpec = z
  .strictObject({
    target: immutable(
      Target,
      'target is immutable (but for extension.managedResourceIgnored, extension.maxHold and extension.strategy from Auto to ReconcileGate): create a new CanaryRollout to roll out something else',
      `self == oldSelf || (${unchangedExcept('extension', ExtensionTarget.shape, ['managedResourceIgnored', 'maxHold', 'strategy'])})`,
    ),
    seedSelector: LabelSelector.optional().describe('Scope: only seeds matching this selector take part (default: all seeds).'),
    waves: immutable(Waves, 'waves are immutable: the plan is built from them; create a new CanaryRollout to change them'),
    healthGate: HealthGate.prefault({}),
    bake: duration('Default bake time of each wave, counted from real exposure.').default('1h'),
    progressDeadline: duration('Default time a wave may take to reach its minimum sample of exposed shoots.').default('24h'),
    onProgressDeadline: z.enum(['Pause', 'Fail']).default('Pause').describe('What happens when a wave misses its progress deadline.'),
    shootReconciliation: ShootReconciliation.prefault({}),
    onHalt: OnHalt.prefault({}),
    dryRun: z.boolean().default(false).describe('Only compute and publish the plan in status.plan; touch nothing.'),
  })
  .describe('Desired rollout: what, where, in which waves, and when to stop.');
export type CanaryRolloutSpec = z.infer<typeof CanaryRolloutSpec>;
export type CanaryRolloutSpecInput = z.input<typeof CanaryRolloutSpec>;

// ---------------------------------------------------------------------------------------------------------
// Status

export const PHASES = ['Pending', 'Planning', 'Planned', 'Progressing', 'Paused', 'Halted', 'RollingBack', 'RolledBack', 'Aborted', 'Succeeded', 'Failed'] as const;
export const Phase = z.enum(PHASES);
export type Phase = z.infer<typeof Phase>;
/** Phases a rollout never leaves: it is done with the landscape. */
export const FINAL_PHASES: ReadonlySet<string> = new Set<Phase>(['Succeeded', 'Aborted', 'RolledBack']);

/** Aborted, RolledBack: the wave the rollout ended in; Cancelled: a wave it never started. */
export const WAVE_PHASES = ['Pending', 'Promoting', 'WaitingForExposure', 'Baking', 'Succeeded', 'Halted', 'Failed', 'Aborted', 'RolledBack', 'Cancelled'] as const;
export const WavePhase = z.enum(WAVE_PHASES);
export type WavePhase = z.infer<typeof WavePhase>;
export const SEED_PHASES = ['Pending', 'Promoting', 'Promoted', 'NotReady', 'Released', 'Reverted', 'Skipped'] as const;
export const SeedPhase = z.enum(SEED_PHASES);

const timestamp = z.iso.datetime({ offset: true });

/** metav1.Condition */
export const Condition = z.strictObject({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1).max(1024),
  message: z.string().max(32768),
  lastTransitionTime: timestamp,
  observedGeneration: z.int().min(0).optional(),
});
export type Condition = z.infer<typeof Condition>;

export const Exclusions = z
  .strictObject({
    hibernated: z.int().min(0).default(0),
    userError: z.int().min(0).default(0),
    baselineUnhealthy: z.int().min(0).default(0),
    accepted: z.int().min(0).default(0).describe('Failing shoots an operator accepted by resuming a halted rollout.'),
    deleting: z.int().min(0).default(0),
    progressing: z.int().min(0).default(0).describe('Progressing shoots, when the gate says to exclude them.'),
    unknown: z.int().min(0).default(0).describe('Shoots with unknown status, when the gate says to exclude them.'),
  })
  .describe('Exposed shoots left out of the ratio, by reason.');

/** Shoot counts of a wave or seed, as seen by the gate. */
export const Counts = z.strictObject({
  shoots: z.int().min(0).describe('All shoots on the seeds.'),
  exposed: z.int().min(0).describe('Shoots that have run the new version.'),
  healthy: z.int().min(0),
  unhealthy: z.int().min(0),
  excluded: Exclusions.prefault({}),
});

/** Only what the rollout needs of a planned seed: the plan is the status's largest part at landscape size (bounds.ts). */
export const PlannedSeed = z.strictObject({
  name: z.string(),
  managedBy: z.string().optional().describe('Parent seed whose gardenlet deploys this managed seed; it moves with the parent.'),
  provider: z.string().optional().describe('Written by controllers before machine version 3 only.'),
  region: z.string().optional().describe('Written by controllers before machine version 3 only.'),
  shoots: z.int().min(0).optional().describe('Written by controllers before machine version 3 only.'),
});

export const PlannedWave = z.strictObject({
  name: z.string(),
  seeds: z.array(PlannedSeed),
  shoots: z.int().min(0),
  shootsByPurpose: z.record(z.string(), z.int().min(0)).optional(),
  productionShoots: z
    .int()
    .min(0)
    .optional()
    .describe('Shoots on the seeds of the wave whose purpose is production or infrastructure (the shoots hosting managed seeds): the exposure that matters most.'),
  shootsConfinedToMaintenance: z
    .int()
    .min(0)
    .optional()
    .describe('Shoots of the wave (not hibernated or being deleted) that confine updates to their maintenance window and are not force-reconciled: they are exposed in their own window (absent: none).'),
});

export const Plan = z.strictObject({
  computedAt: timestamp,
  seeds: z.int().min(0),
  shoots: z.int().min(0),
  waves: z.array(PlannedWave),
  unplannedSeeds: z.array(z.string()).optional().describe('In-scope seeds that no wave picked (they are not touched).'),
});
export type Plan = z.infer<typeof Plan>;

/** Per-seed details the status lists over all waves (waves[].seeds); the plan and the machine state hold every seed. */
export const MAX_SEED_DETAILS = 100;

export const SeedStatus = z.strictObject({
  name: z.string(),
  phase: SeedPhase,
  previousVersion: z.string().optional(),
  version: z.string().optional().describe('status.gardener.version last observed on the seed.'),
  promotedAt: timestamp.optional(),
  readyAt: timestamp.optional(),
  counts: Counts.optional(),
  message: z.string().optional(),
});

export const WaveStatus = z.strictObject({
  name: z.string(),
  phase: WavePhase,
  seedsPromoted: z.int().min(0),
  seedsTotal: z.int().min(0),
  counts: Counts.optional(),
  unhealthyRatio: z.number().min(0).max(1).optional(),
  startedAt: timestamp.optional(),
  exposedAt: timestamp.optional().describe('When the wave reached its minimum sample of exposed shoots; the bake starts here.'),
  bakeUntil: timestamp.optional(),
  deadline: timestamp.optional(),
  finishedAt: timestamp.optional(),
  seeds: z
    .array(SeedStatus)
    .optional()
    .describe(`The wave's seeds, at most ${MAX_SEED_DETAILS} over all waves (the current wave first, then the waves before it, newest first, then the waves after it); a wave that cannot list all lists those still promoting or pending first.`),
  seedsOmitted: z.int().min(0).optional().describe('Seeds of the wave that seeds does not list (status size bound).'),
});
export type WaveStatus = z.infer<typeof WaveStatus>;

export const HistoryEntry = z.strictObject({
  time: timestamp,
  kind: z.enum(['Decision', 'Operation']),
  event: z.string().describe('What happened, e.g. WavePromoted, Halted, pause.'),
  reason: z.string().optional(),
  message: z.string().optional(),
  actor: z.string().optional().describe('Who asked for an operation, when known.'),
  wave: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const EXTENSION_STRATEGIES = ['ReconcileGate', 'SeedSelector'] as const;

export const ExtensionStatus = z
  .strictObject({
    strategy: z.enum(EXTENSION_STRATEGIES).describe('The strategy taken.'),
    reason: z.string().describe('Why this strategy was taken.'),
    registrations: z.array(z.string()).max(20).describe('ControllerRegistrations that reference the ControllerDeployment.'),
    previous: z
      .strictObject({
        resourceVersion: z.string().optional().describe('resourceVersion of the ControllerDeployment when the rollout recorded it.'),
        helm: z.record(z.string(), z.unknown()).meta({ 'x-kubernetes-preserve-unknown-fields': true }).describe('Its helm content (RevertAll restores it).'),
      })
      .optional()
      .describe('The ControllerDeployment content before the rollout changed it.'),
    temporary: z
      .strictObject({
        registration: z.string().describe('ControllerRegistration that carries the new version to the released seeds.'),
        deployment: z.string().describe('ControllerDeployment with the new version.'),
        seedLabel: z.string().describe('Seed label (also written to the seedConfig, so it survives gardenlet restarts) that releases a seed.'),
      })
      .optional()
      .describe('SeedSelector strategy: the temporary objects; they are removed when the rollout ends.'),
  })
  .describe('Extension targets: the strategy, the registrations involved and the previous content.');
export type ExtensionStatus = z.infer<typeof ExtensionStatus>;

export const CanaryRolloutStatus = z.strictObject({
  observedGeneration: z.int().min(0).optional(),
  phase: Phase.optional(),
  message: z.string().optional(),
  targetVersion: z.string().optional(),
  plan: Plan.optional(),
  currentWave: z.int().min(0).optional().describe('Index of the wave in progress (0 is the canary wave).'),
  waveProgress: z.string().optional().describe('Waves done or in progress over all waves, e.g. 2/5 (for kubectl get).'),
  healthyRatio: z.number().min(0).max(1).optional().describe('Healthy share of the counted exposed shoots over all waves.'),
  sampleSize: z.int().min(0).optional().describe('Counted exposed shoots over all waves.'),
  extension: ExtensionStatus.optional(),
  waves: z.array(WaveStatus).max(MAX_WAVES).optional(),
  conditions: z.array(Condition).max(32).optional(),
  history: z.array(HistoryEntry).max(MAX_HISTORY).optional().describe(`The last ${MAX_HISTORY} decisions and operator operations.`),
  machine: z
    .strictObject({
      version: z.int().min(1).describe('Version of the state machine that wrote the state.'),
      state: z.record(z.string(), z.unknown()).meta({ 'x-kubernetes-preserve-unknown-fields': true }),
    })
    .optional()
    .describe('Persisted state of the rollout state machine.'),
});
export type CanaryRolloutStatus = z.infer<typeof CanaryRolloutStatus>;

/** Longest rollout name: the controller keeps rollout names usable as label values. */
export const MAX_ROLLOUT_NAME = 63;

/**
 * Rollout names are DNS labels: at most 63 lowercase letters, digits and '-', no dots. Kubernetes would take any
 * DNS subdomain (dots, 253 characters); this controller's schema never did, so such a rollout used to be stored and
 * then silently skipped. Checked on create only (oldSelf is empty then): a rollout stored before the rule can still
 * get the status that says why it is not reconciled, and be deleted (src/controller/rejected.ts).
 */
const ROLLOUT_NAME_RULE = {
  cel: `oldSelf.hasValue() || (size(self.metadata.name) <= ${MAX_ROLLOUT_NAME} && self.metadata.name.matches('${NAME.source}'))`,
  optionalOldSelf: true,
  message: `metadata.name must be a DNS label: at most ${MAX_ROLLOUT_NAME} lowercase letters, digits and '-', starting and ending with a letter or digit, no dots`,
  check: (o: { metadata: { name: string } }) => o.metadata.name.length <= MAX_ROLLOUT_NAME && NAME.test(o.metadata.name),
};

const CanaryRolloutObject = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.looseObject({
    name: z.string().min(1).max(253),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    creationTimestamp: z.string().optional(),
  }),
  spec: CanaryRolloutSpec,
  status: CanaryRolloutStatus.optional(),
});

/** Its rules (x-kubernetes-validations) are the CRD's root rules (crd.ts). */
export const CanaryRollout = withRules(CanaryRolloutObject, [ROLLOUT_NAME_RULE]);
export type CanaryRollout = z.infer<typeof CanaryRollout>;
