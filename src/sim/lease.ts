// gardenlet's heartbeat: one Lease per seed in gardener-system-seed-lease (pkg/gardenlet/controller/lease/
// reconciler.go). Gardener's gardenlet lifecycle controller marks a seed GardenletReady=Unknown when its Lease is
// missing or was not renewed within the monitor period.
import { statusCode, type KubeClient } from '../kube/client.js';
import { ensureNamespace } from './garden-writes.js';

/** Gardener's namespace for the gardenlet heartbeat Leases (gardencorev1beta1.GardenerSeedLeaseNamespace). */
export const SEED_LEASE_NAMESPACE = 'gardener-system-seed-lease';
export const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true } as const;

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export async function ensureLeaseNamespace(client: KubeClient): Promise<void> {
  await ensureNamespace(client, SEED_LEASE_NAMESPACE);
}

/** Renews (or creates, owned by the seed) the seed's Lease at `now`. */
export async function renewSeedLease(client: KubeClient, seed: { name: string; uid?: string | undefined }, now: number, resyncMs: number): Promise<void> {
  const spec = { holderIdentity: seed.name, leaseDurationSeconds: Math.max(1, Math.round(resyncMs / 1000)), renewTime: microTime(now) };
  try {
    await client.patch(LEASES, seed.name, { spec }, SEED_LEASE_NAMESPACE);
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
    const ownerReferences = seed.uid ? [{ apiVersion: 'core.gardener.cloud/v1beta1', kind: 'Seed', name: seed.name, uid: seed.uid }] : undefined;
    await client.create(LEASES, { metadata: { name: seed.name, namespace: SEED_LEASE_NAMESPACE, ...(ownerReferences ? { ownerReferences } : {}) }, spec });
  }
}
