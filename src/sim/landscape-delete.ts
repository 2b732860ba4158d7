// Deleting a landscape from a garden: everything carrying its label, in the order Gardener's admission enforces, with
// gardenlet's part of a deletion played where no simulator runs any more. Shared objects (registrations, the garden
// project) stay.
import * as z from 'zod';
import { ANNOTATION_CONFIRM_DELETION } from '../gardener/api.js';
import { RESOURCES, type KubeClient } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import { removeInstallations, retryWhileForbidden, waitUntilGone } from './garden-writes.js';
import { GARDEN_NAMESPACE, LABEL_LANDSCAPE } from './landscape-plan.js';

const anyObject = z.looseObject({ metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }) });
type AnyObject = z.infer<typeof anyObject>;

const keyOf = (o: AnyObject) => `${o.metadata.namespace}/${o.metadata.name}`;

/** Deletes everything a landscape created (shoots first, with Gardener's deletion confirmation). */
export async function deleteLandscape(client: KubeClient, prefix: string, concurrency = 24): Promise<void> {
  const selector = `${LABEL_LANDSCAPE}=${prefix}`;
  const confirm = { metadata: { annotations: { [ANNOTATION_CONFIRM_DELETION]: 'true' } } };
  // Gardener's admission enforces the order: a ManagedSeed goes only once no shoot uses its seed, and a shoot goes
  // only once no ManagedSeed references it. So: workload shoots, ManagedSeeds and Gardenlets, hosting shoots.
  const shoots = await client.list(RESOURCES.shoots, anyObject, { labelSelector: selector });
  const deleteShoots = async (items: readonly AnyObject[]) => {
    await mapLimit(items, concurrency, async (s) => {
      await client.patch(RESOURCES.shoots, s.metadata.name, confirm, s.metadata.namespace);
      await retryWhileForbidden(() => client.delete(RESOURCES.shoots, s.metadata.name, s.metadata.namespace));
    });
    if (!items.length) return;
    // With Gardener's controllers in the garden a shoot carries the finalizer core.gardener.cloud/controllerregistration
    // (controllerregistration/clusterfinalizer) and goes a moment after its deletion; until then admission refuses
    // to delete its seed or ManagedSeed.
    // At landscape scale that takes a while: give up only after 60 s without progress.
    const keys = new Set(items.map(keyOf));
    await waitUntilGone(async () => (await client.list(RESOURCES.shoots, anyObject, { labelSelector: selector })).filter((s) => keys.has(keyOf(s))), {
      timeoutMs: 60_000,
      fromLastProgress: true,
      error: (left) => `${left.length} shoots of landscape ${prefix} still there 60s after the last one went`,
    });
  };
  await deleteShoots(shoots.filter((s) => s.metadata.namespace !== GARDEN_NAMESPACE));
  for (const rt of [RESOURCES.managedSeeds, RESOURCES.gardenlets]) {
    const items = await client.list(rt, anyObject, { labelSelector: selector });
    // the ManagedSeed admission plugin reads shoots from gardener-apiserver's informer, which may not have seen the
    // deletions yet ("still used by shoot(s)"): try again, a bounded number of times
    await mapLimit(items, concurrency, (o) => retryWhileForbidden(() => client.delete(rt, o.metadata.name, o.metadata.namespace)));
  }
  await deleteShoots(shoots.filter((s) => s.metadata.namespace === GARDEN_NAMESPACE));
  // gardener-controller-manager deletes the installations of a seed being deleted and lets the seed go once none
  // is left; gardenlet releases its finalizer on them, which a stopped simulator no longer does: this does it
  const seeds = await client.list(RESOURCES.seeds, anyObject, { labelSelector: selector });
  const seedNames = new Set(seeds.map((o) => o.metadata.name));
  await mapLimit(seeds, concurrency, (o) => client.delete(RESOURCES.seeds, o.metadata.name));
  await waitUntilGone(
    async () => {
      await removeInstallations(client, (i) => seedNames.has(i.spec.seedRef?.name ?? ''), concurrency);
      return client.list(RESOURCES.seeds, anyObject, { labelSelector: selector });
    },
    { timeoutMs: 60_000, error: (left) => `${left.length} seeds of landscape ${prefix} not gone 60s after their deletion` },
  );
  const projects = await client.list(RESOURCES.projects, anyObject, { labelSelector: selector });
  await mapLimit(projects, concurrency, async (o) => {
    await client.patch(RESOURCES.projects, o.metadata.name, confirm);
    await client.delete(RESOURCES.projects, o.metadata.name);
  });
  const profiles = await client.list(RESOURCES.cloudProfiles, anyObject, { labelSelector: selector });
  await mapLimit(profiles, concurrency, (o) => client.delete(RESOURCES.cloudProfiles, o.metadata.name));
}
