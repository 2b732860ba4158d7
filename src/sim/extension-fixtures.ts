// Extension fixtures: registering an extension in a garden as an operator (or gardener-operator) would, and removing
// it again together with what a rollout of it may have left.
import { ControllerDeployment, ControllerRegistration } from '../gardener/api.js';
import { RESOURCES, type KubeClient } from '../kube/client.js';
import { ensure, removeInstallations, waitUntilGone } from './garden-writes.js';
import { extensionChartRef } from './landscape-objects.js';

export interface ExtensionFixture {
  /** Name of the ControllerRegistration and its ControllerDeployment. */
  name: string;
  /** Extension type; unique per primary registration (ControllerRegistrationResources admission). */
  type: string;
  /** Resource kind (default Extension). */
  kind?: string;
  /** Whether the registration controls the kind/type primarily (default true); only secondary ones take a seedSelector. */
  primary?: boolean;
  policy?: 'Always' | 'OnDemand' | 'AlwaysExceptNoShoots';
  /** Seeds the registration is deployed to (secondary registrations only). */
  seedSelector?: NonNullable<NonNullable<ControllerRegistration['spec']['deployment']>['seedSelector']>;
  /** Chart version, the tag of the deployment's OCI ref. */
  version: string;
}

/**
 * A ControllerDeployment at `version` and a ControllerRegistration pointing at it, as an operator (or
 * gardener-operator) registers an extension. An existing deployment is moved to `version`; an existing
 * registration is kept (its resources' primary flag is immutable).
 */
export async function ensureExtension(client: KubeClient, x: ExtensionFixture): Promise<{ deployment: ControllerDeployment; registration: ControllerRegistration }> {
  const helm = { ociRepository: { ref: extensionChartRef(x.name, x.version) } };
  await ensure(client, RESOURCES.controllerDeployments, { metadata: { name: x.name }, helm });
  const deployment = ControllerDeployment.parse(await client.patch(RESOURCES.controllerDeployments, x.name, { helm }));
  await ensure(client, RESOURCES.controllerRegistrations, {
    metadata: { name: x.name },
    spec: {
      resources: [{ kind: x.kind ?? 'Extension', type: x.type, primary: x.primary ?? true }],
      deployment: { policy: x.policy ?? 'Always', deploymentRefs: [{ name: x.name }], ...(x.seedSelector ? { seedSelector: x.seedSelector } : {}) },
    },
  });
  const registration = await client.get(RESOURCES.controllerRegistrations, ControllerRegistration, x.name);
  return { deployment, registration };
}

/**
 * Removes an extension registered by ensureExtension, together with the `<name>-canary` registration and
 * deployment a rollout may have left, and the installations of both registrations. The registrations go first, so
 * that a simulator still running does not recreate the installations; the deployments once the registrations are
 * gone: gardener-apiserver admits the removal of Gardener's finalizer from a registration only while the deployments
 * it names exist (plugin/pkg/global/resourcereferencemanager/admission.go), so a deployment deleted earlier would
 * keep its registration for good.
 */
export async function deleteExtension(client: KubeClient, name: string, timeoutMs = 60_000): Promise<void> {
  const names = [name, `${name}-canary`];
  for (const n of names) await client.delete(RESOURCES.controllerRegistrations, n);
  await waitUntilGone(
    async () => {
      await removeInstallations(client, (i) => names.includes(i.spec.registrationRef.name), 8);
      return (await Promise.all(names.map((n) => client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n)))).filter((r) => r !== undefined);
    },
    { timeoutMs, error: (left) => `ControllerRegistrations ${left.map((r) => r.metadata.name).join(', ')} not gone ${timeoutMs / 1000}s after their deletion` },
  );
  for (const n of names) await client.delete(RESOURCES.controllerDeployments, n);
}
