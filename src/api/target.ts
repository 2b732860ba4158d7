// What a CanaryRollout rolls out (spec.target): a gardenlet version, or an extension's ControllerDeployment content.
import * as z from 'zod';
import { dnsName, duration, OCIRepository } from './fields.js';
import { immutable, withRules } from './rules.js';

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
