// CanaryRollout (canary.gardener.cloud/v1alpha1, cluster-scoped): the single source of truth for the API.
// TypeScript types are inferred from these schemas and the CRD in crds/ is generated from them (npm run crds).
// Descriptions become the CRD's OpenAPI descriptions, so they are what `kubectl explain` shows operators.
import * as z from 'zod';
import { DURATION, MAX_DURATION_HOURS, MAX_DURATION_MS, rawDurationMs } from '../util/duration.js';
import { immutable, unchangedExcept, uniqueList, withRules } from './rules.js';

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
export const MAX_WAVES = 20;
export const MAX_SEED_NAMES = 1000;
export const MAX_HISTORY = 100;

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const duration = (description: string) =>
  withRules(
    z
      .string()
      .max(32)
      .regex(DURATION, { error: `must be a duration like 30m, 2h or 1h30m, at most ${MAX_DURATION_HOURS}h` })
      .describe(`${description} At most ${MAX_DURATION_HOURS}h (one year), counting all of h, m and s.`),
    [
      { cel: "self != ''", message: 'must not be empty', check: (v) => v !== '' },
      {
        // guarded so that a value the pattern rejects is reported once, by the pattern, not again as a CEL error
        cel: `!self.matches('${DURATION.source}') || self == '' || duration(self) <= duration('${MAX_DURATION_HOURS}h')`,
        message: `must be at most ${MAX_DURATION_HOURS}h (one year)`,
        check: (v) => !DURATION.test(v) || rawDurationMs(v) <= MAX_DURATION_MS,
      },
    ],
  );
const ratio = (description: string) => z.number().min(0).max(1).describe(description);
const dnsName = z.string().min(1).max(253).regex(NAME, { error: 'must be a lowercase RFC 1123 name' });

// ---------------------------------------------------------------------------------------------------------
// Building blocks

export const LabelSelectorRequirement = z.strictObject({
  key: z.string().min(1).max(317),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string().max(63)).max(100).optional(),
});

/** metav1.LabelSelector. An empty selector selects everything. */
export const LabelSelector = withRules(
  z.strictObject({
    matchLabels: z.record(z.string(), z.string().max(63)).optional(),
    matchExpressions: z.array(LabelSelectorRequirement).max(20).optional(),
  }),
  [
    {
      cel: "!has(self.matchExpressions) || self.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",
      message: 'In and NotIn need values, Exists and DoesNotExist take none',
      field: '.matchExpressions',
      check: (s) => (s.matchExpressions ?? []).every((e) => ['In', 'NotIn'].includes(e.operator) === (e.values?.length ?? 0) > 0),
    },
  ],
);
export type LabelSelector = z.infer<typeof LabelSelector>;

/** A helm chart in an OCI registry: a full ref, or repository plus tag and/or digest (Gardener's OCIRepository). */
export const OCIRepository = withRules(
  z.strictObject({
    ref: z.string().min(1).max(1024).optional().describe('Full reference, e.g. registry.example.com/charts/gardenlet:v1.150.0'),
    repository: z.string().min(1).max(1024).optional().describe('Repository without tag or digest'),
    tag: z.string().min(1).max(128).optional(),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { error: 'must be sha256:<64 hex digits>' })
      .optional(),
  }),
  [
    {
      cel: 'has(self.ref) != has(self.repository)',
      message: 'exactly one of ref or repository must be set',
      check: (o) => (o.ref !== undefined) !== (o.repository !== undefined),
    },
    {
      cel: '!has(self.repository) || has(self.tag) || has(self.digest)',
      message: 'repository needs a tag or a digest',
      check: (o) => o.repository === undefined || o.tag !== undefined || o.digest !== undefined,
    },
    {
      cel: '!has(self.ref) || (!has(self.tag) && !has(self.digest))',
      message: 'tag and digest go with repository, not with ref',
      check: (o) => o.ref === undefined || (o.tag === undefined && o.digest === undefined),
    },
  ],
);
export type OCIRepository = z.infer<typeof OCIRepository>;

const VERSION_STRING = /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$/;

export const GardenletTarget = z
  .strictObject({
    ociRepository: OCIRepository.describe('The new gardenlet chart. Written to Gardenlet.spec.deployment.helm.ociRepository of each promoted seed.'),
    version: z
      .string()
      .regex(VERSION_STRING, { error: 'must be a semantic version like v1.150.0' })
      .describe('The gardenlet version this chart runs, as seeds and shoots report it in status.gardener.version. Exposure is judged by it.'),
  })
  .describe('Roll out a new gardenlet version seed by seed.');

export const ExtensionTarget = z
  .strictObject({
    controllerDeployment: dnsName.describe('Name of the ControllerDeployment (core.gardener.cloud/v1) whose helm content changes.'),
    version: z
      .string()
      .regex(VERSION_STRING, { error: 'must be a semantic version like v1.62.0' })
      .describe('The extension version the new chart deploys, for status and kubectl get.'),
    helm: z
      .strictObject({
        ociRepository: OCIRepository,
        values: z
          .record(z.string(), z.unknown())
          .meta({ 'x-kubernetes-preserve-unknown-fields': true, description: 'Helm values of the new ControllerDeployment (replace the old values).' })
          .optional(),
      })
      .describe('The new helm content of the ControllerDeployment.'),
    strategy: immutable(
      z.enum(['Auto', 'ReconcileGate', 'SeedSelector']).default('Auto'),
      'strategy can only change from Auto to ReconcileGate (to accept the reconcile gate a waiting rollout describes)',
      "self == oldSelf || (oldSelf == 'Auto' && self == 'ReconcileGate')",
    ).describe(
        'How seeds outside the released waves are kept from running the new version. ReconcileGate: the ' +
          "ControllerDeployment changes at once and seeds outside the released waves carry Gardener's " +
          'shoot.gardener.cloud/emergency-stop-reconciliations annotation until their wave is released (works for ' +
          'primary registrations; webhooks of the new version act on every seed at once). SeedSelector: a second ' +
          'ControllerRegistration and ControllerDeployment carry the new version to the released seeds through a ' +
          'seedSelector on a wave label (non-primary registrations only). Auto: SeedSelector when exactly one ' +
          'registration references the ControllerDeployment and it is non-primary; Auto never takes ReconcileGate on its ' +
          'own: the rollout waits in Pending (condition Waiting, reason ReconcileGateNotChosen, saying what the gate ' +
          'would hold and for how long) until the strategy is set to ReconcileGate, the one change the strategy allows. ' +
          'status.extension says which was taken and why (a change after the start has no effect).',
      ),
    installationCarePeriod: duration(
      "gardenlet's ControllerInstallation care sync period (gardenlet config controllers.controllerInstallationCare.syncPeriod, " +
        'Gardener default 30s). gardenlet keeps Installed=True across revisions and writes a condition only when it ' +
        'changes, so the conditions of an installation that just reached the new revision may still describe the old ' +
        'one: a seed counts as running the new version once a condition changed after the revision arrived, or one ' +
        'care period later.',
    ).default('30s'),
    maxHold: duration(
      'ReconcileGate only: the longest the gate may hold shoot reconciles on seeds not released yet, counted from the ' +
        'start of the rollout (and again from each resume or retry). When it is reached the rollout pauses (reason ' +
        'MaxHoldExceeded, a Warning event): nothing is released on a timer, because that would expose every remaining ' +
        'seed at once. resume holds for another maxHold; abort with RevertAll gives everything back. May be changed ' +
        'while the rollout runs.',
    ).optional(),
    managedResourceIgnored: z
      .boolean()
      .default(false)
      .describe(
        'A ControllerDeployment that gardener-resource-manager manages (it carries resources.gardener.cloud/origin, ' +
          "e.g. one gardener-operator deploys for an Extension) gets every change reverted at the manager's next sync. " +
          'Such a rollout waits in Pending until this is true: set it only after annotating the ManagedResource the ' +
          'origin names with resources.gardener.cloud/ignore=true, and move the new content into its source before ' +
          'removing that annotation again.',
      ),
  })
  .describe('Roll out a new extension version (ControllerDeployment) seed by seed.');

export const Target = withRules(
  z.strictObject({
    gardenlet: GardenletTarget.optional(),
    extension: ExtensionTarget.optional(),
  }),
  [
    {
      cel: 'has(self.gardenlet) != has(self.extension)',
      message: 'exactly one of gardenlet or extension must be set',
      check: (t) => (t.gardenlet !== undefined) !== (t.extension !== undefined),
    },
  ],
).describe('What to roll out: exactly one of gardenlet or extension.');
export type Target = z.infer<typeof Target>;

export const UnhealthyAs = z.enum(['Healthy', 'Unhealthy', 'Excluded']);

/** Every field optional: used as a per-wave override of the rollout's gate. */
export const HealthGateOverride = z.strictObject({
  maxUnhealthyRatio: ratio('Largest tolerated share of unhealthy exposed shoots in the wave; crossing it halts the rollout.').optional(),
  minSampleSize: z
    .int()
    .min(1)
    .max(100000)
    .optional()
    .describe('Exposed, counted shoots needed before the wave can pass; below it the gate is inconclusive (keeps sampling), never a pass.'),
});

export const HealthGate = z
  .strictObject({
    maxUnhealthyRatio: ratio('Largest tolerated share of unhealthy exposed shoots per wave; crossing it halts the rollout.').default(0.05),
    maxOverallUnhealthyRatio: ratio('Largest tolerated share of unhealthy exposed shoots over all waves so far.').default(0.05),
    minSampleSize: z
      .int()
      .min(1)
      .max(100000)
      .default(20)
      .describe('Exposed, counted shoots needed before a wave can pass; below it the gate is inconclusive (keeps sampling), never a pass.'),
    progressing: UnhealthyAs.default('Healthy').describe('How shoots whose shoot.gardener.cloud/status is progressing count.'),
    unknown: UnhealthyAs.default('Unhealthy').describe('How shoots whose status is unknown count (e.g. their gardenlet lost its lease).'),
    exclude: z
      .strictObject({
        hibernated: z.boolean().default(true).describe('Leave hibernated shoots out of the ratio.'),
        userErrors: z
          .boolean()
          .optional()
          .describe(
            "Leave out failures that carry Gardener's user/infrastructure error codes (ERR_INFRA_*, ERR_CONFIGURATION_PROBLEM, ...) " +
              'on every error and failing condition. Default: true for gardenlet targets, false for extension targets (a ' +
              'provider-extension bug can surface as an infrastructure error code).',
          ),
        errorCodes: z.array(z.string().regex(/^ERR_[A-Z_]+$/)).max(50).optional().describe('Further error codes to leave out.'),
        baselineUnhealthy: z.boolean().default(true).describe('Leave out shoots that were already unhealthy before their wave started.'),
      })
      .prefault({})
      .describe('Which shoots do not count (every exclusion is counted by reason in the status).'),
    seedReadinessGracePeriod: duration(
      'How long a promoted seed may stay not ready (GardenletReady or SeedSystemComponentsHealthy not True, observedGeneration ' +
        'behind, its installation failing) before that halts the rollout; a shorter blip is tolerated. gardenlet ' +
        'itself turns GardenletReady Unknown only after its lease is 40s stale.',
    ).default('2m'),
    confidence: z
      .strictObject({
        method: z.enum(['Wilson']).default('Wilson'),
        level: z.number().gt(0.5).lt(1).default(0.95).describe('Confidence level of the bound, e.g. 0.95.'),
      })
      .optional()
      .describe('Judge by a confidence bound on the healthy ratio instead of the raw ratio (small samples need more evidence).'),
  })
  .describe('When a wave passes and when the rollout halts.');
export type HealthGate = z.infer<typeof HealthGate>;

export const AutoPick = z.strictObject({
  coverage: z
    .enum(['ProviderRegion', 'Provider', 'Region'])
    .default('ProviderRegion')
    .describe('Pick seeds so that every provider/region (or provider, or region) in scope is covered.'),
  seedsPerGroup: z
    .int()
    .min(1)
    .max(10)
    .default(1)
    .describe('Seeds picked per coverage group, each the one exposing the fewest production shoots (then the fewest shoots) among seeds with countable shoots.'),
  maxShoots: z
    .int()
    .min(1)
    .max(1000000)
    .optional()
    .describe(
      'The wave never exposes more shoots than this (all shoots on its seeds, managed seeds included). When the cap keeps a group uncovered or the wave below its minimum sample, the plan notes say so.',
    ),
});
export type AutoPick = z.infer<typeof AutoPick>;

export const Wave = withRules(
  z.strictObject({
    name: dnsName.max(63).describe('Unique name of the wave.'),
    seedNames: uniqueList(z.array(dnsName).min(1).max(MAX_SEED_NAMES)).optional().describe('Explicit seeds (unique).'),
    seedSelector: LabelSelector.optional().describe('Seeds matching this selector among the remaining in-scope seeds.'),
    count: z.int().min(1).max(10000).optional().describe('This many of the remaining in-scope seeds.'),
    percent: z.int().min(1).max(100).optional().describe('This percentage of the remaining in-scope seeds (rounded up).'),
    autoPick: AutoPick.optional().describe(
      'First wave only: the controller picks the canary seeds with the least exposure: per coverage group the seed with the fewest production shoots, then, while the wave has fewer countable shoots than its minimum sample, the seeds adding the fewest production shoots per shoot gained.',
    ),
    maxConcurrentSeeds: z.int().min(1).max(10000).optional().describe('Seeds promoted at the same time within the wave (default: all of them).'),
    bake: duration('How long the wave must stay healthy after real exposure before the next wave starts.').optional(),
    progressDeadline: duration('How long the wave may take to reach its minimum sample of exposed shoots.').optional(),
    healthGate: HealthGateOverride.optional().describe('Overrides of the rollout health gate for this wave.'),
  }),
  [
    {
      cel: '[has(self.seedNames), has(self.seedSelector), has(self.count), has(self.percent), has(self.autoPick)].filter(x, x).size() == 1',
      message: 'exactly one of seedNames, seedSelector, count, percent or autoPick must be set',
      check: (w) => [w.seedNames, w.seedSelector, w.count, w.percent, w.autoPick].filter((x) => x !== undefined).length === 1,
    },
  ],
);
export type Wave = z.infer<typeof Wave>;

export const Waves = withRules(uniqueList(z.array(Wave).min(1).max(MAX_WAVES), 'name'), [
  {
    cel: 'self.filter(w, has(w.autoPick)).size() == 0 || (has(self[0].autoPick) && self.filter(w, has(w.autoPick)).size() == 1)',
    message: 'only the first (canary) wave may use autoPick',
    check: (ws) => ws.every((w, i) => w.autoPick === undefined || i === 0),
  },
]).describe('Ordered waves. The first wave is the canary wave; seeds are taken in order, each seed in at most one wave.');

export const OnHalt = z
  .strictObject({
    emergencyStop: z
      .boolean()
      .default(true)
      .describe("Set Gardener's emergency-stop-reconciliations annotation on the seeds of the halted wave."),
    rollback: z
      .enum(['Freeze', 'RevertAll'])
      .default('Freeze')
      .describe('Freeze: leave promoted seeds as they are (Gardener does not support gardenlet downgrades). RevertAll: restore the previous version on every promoted seed.'),
  })
  .describe('What happens when the gate halts the rollout or an operator aborts it.');

export const ShootReconciliation = z
  .strictObject({
    trigger: z
      .boolean()
      .default(false)
      .describe(
        "Annotate the wave's shoots with gardener.cloud/operation=reconcile (retry for Failed shoots, for which a reconcile request does nothing) so they run the new version now, not at their next reconcile.",
      ),
    maxPerMinute: z.int().min(1).max(10000).default(30).describe('Rate limit of triggered reconciliations (and retries) across the landscape.'),
    includeConfinedToMaintenance: z
      .boolean()
      .default(false)
      .describe(
        "With trigger: also reconcile (or retry) shoots whose owner confined updates to their maintenance window (spec.maintenance.confineSpecUpdateRollout). By default they are left alone: gardenlet reconciles them in their own maintenance window, and that exposes them.",
      ),
  })
  .describe('Whether the controller pulls shoot reconciliations forward: reconcile requests, and retry requests for Failed shoots, on the shoots of released seeds that have not run the new version yet.');

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
