// Leader election against the real API server's Lease: the leader renews with one request per retry period, a
// lease taken over behind its back makes it stop leading, and a standby takes an expired lease.
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { LeaderElector } from '../../src/controller/leader.js';
import { loadKubeConfig } from '../../src/kube/client.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../support/controller.js';
import { gardenKubeconfig, uniquePrefix } from '../support/garden.js';

const namespace = 'default';
const name = `${uniquePrefix('l')}-lease`;
const log = createLogger({ level: 'error' });
const admin = loadKubeConfig(gardenKubeconfig());
const leases = admin.makeApiClient(k8s.CoordinationV1Api);
const electors: LeaderElector[] = [];

function candidate(identity: string) {
  const kc = loadKubeConfig(gardenKubeconfig());
  const elector = new LeaderElector(kc, { namespace, name, identity, leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.25 }, log);
  electors.push(elector);
  const events: string[] = [];
  elector.run(
    () => events.push('start'),
    () => events.push('stop'),
  );
  return { kc, elector, events };
}

afterAll(async () => {
  for (const e of electors) await e.release();
  await leases.deleteNamespacedLease({ name, namespace }).catch(() => undefined);
  admin.close();
});

describe('leader election', () => {
  it('renews with one request per retry period, loses a lease taken behind its back, and a standby takes an expired lease', async () => {
    const a = candidate('a');
    await waitFor('a leads', async () => (a.elector.isLeader ? true : undefined), 10_000);
    // steady state: each renewal is one update against the lease a wrote last, no read. Count a's requests against
    // the lease's writes (a watch sees every one), so that the check does not depend on timing.
    let writes = 0;
    const watch = await new k8s.Watch(admin).watch(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, { fieldSelector: `metadata.name=${name}` }, (type) => {
      if (type === 'MODIFIED') writes++;
    }, () => undefined);
    await new Promise((r) => setTimeout(r, 500)); // the watch is open
    const [before, writesBefore] = [a.kc.requests, writes];
    await new Promise((r) => setTimeout(r, 3_000));
    const [sent, written] = [a.kc.requests - before, writes - writesBefore];
    watch.abort();
    expect(written).toBeGreaterThanOrEqual(4);
    // a read and a write per renewal would be twice as many; +2: renewals in flight or whose event is still on its
    // way at either end of the window
    expect(sent).toBeLessThanOrEqual(written + 2);

    // someone else holds the lease now (a fresh renewTime): a's next renewal conflicts, reads, and a steps down
    const b = candidate('b');
    const current = await leases.readNamespacedLease({ name, namespace });
    await leases.replaceNamespacedLease({
      name,
      namespace,
      body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new k8s.V1MicroTime(new Date().toISOString()), leaseDurationSeconds: 2 } },
    });
    await waitFor('a steps down', async () => (a.events.includes('stop') ? true : undefined), 5_000);
    expect(a.elector.isLeader).toBe(false);
    // the intruder never renews: after the lease duration one of the candidates takes it over, and only one
    await waitFor('a new leader', async () => (a.elector.isLeader || b.elector.isLeader ? true : undefined), 10_000);
    const lease = await leases.readNamespacedLease({ name, namespace });
    expect(['a', 'b']).toContain(lease.spec!.holderIdentity);
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
    expect(lease.spec!.leaseTransitions).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
