// The waves of a CanaryRollout (spec.waves: which seeds, in which order, how long each bakes) and how their shoots
// are brought to the new version (spec.shootReconciliation).
import * as z from 'zod';
import { dnsName, duration, LabelSelector } from './fields.js';
import { HealthGateOverride } from './health-gate.js';
import { uniqueList, withRules } from './rules.js';

// Bounds keep CEL cost estimates finite and objects far below etcd's size limit.
export const MAX_WAVES = 20;
export const MAX_SEED_NAMES = 1000;

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
