// When a wave passes and when the rollout halts (spec.healthGate, and its per-wave override), and what a halt
// does (spec.onHalt).
import * as z from 'zod';
import { duration, ratio } from './fields.js';

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
            'Leave out failures whose every error and failing condition carries an error code that Gardener\'s documentation ' +
              'classifies as a user error ("User error: true" in docs/usage/shoot/shoot_status.md; not ERR_INFRA_RATE_LIMITS_EXCEEDED ' +
              'or ERR_RETRYABLE_INFRA_DEPENDENCIES). Default: true for gardenlet targets, false for extension targets (a ' +
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
