// Leader election against the real API server's Lease, with client-go's semantics: the leader renews with one
// request per retry period; a lease taken over behind its back makes it stop leading; expiry is measured from when
// a candidate saw the record change, so a candidate whose clock is ahead never takes a renewed lease; candidates
// starting together elect one leader; a released elector never leads again.
import { afterAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaderElector, NotLeaderError, type LeaderClocks } from '../../src/controller/leader.js';
import { loadKubeConfig } from '../../src/kube/client.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { createLogger } from '../../src/util/log.js';
import { NotYet, waitFor } from '../support/eventually.js';
import { gardenKubeconfig, uniquePrefix } from '../support/garden.js';

const namespace = 'default';
const log = createLogger({ level: 'error' });
const admin = loadKubeConfig(gardenKubeconfig());
const leases = admin.makeApiClient(k8s.CoordinationV1Api);
const electors: LeaderElector[] = [];
const names: string[] = [];
const FAST = { leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.25 };

function candidate(name: string, identity: string, timings = FAST, clocks?: LeaderClocks, kubeconfig = gardenKubeconfig()) {
  const elector = new LeaderElector(loadKubeConfig(kubeconfig), { namespace, name, identity, ...timings }, log, clocks);
  electors.push(elector);
  const events: string[] = [];
  elector.run(
    () => events.push('start'),
    () => events.push('stop'),
  );
  return { elector, events };
}

function leaseName(): string {
  const name = `${uniquePrefix('l')}-lease`;
  names.push(name);
  return name;
}

afterAll(async () => {
  for (const e of electors) await e.release();
  for (const name of names) await leases.deleteNamespacedLease({ name, namespace }).catch(() => undefined);
  admin.close();
});

describe('leader election', () => {
  it('renews with one request per retry period, loses a lease taken behind its back, and a standby takes an expired lease', async () => {
    const name = leaseName();
    const a = candidate(name, 'a');
    await waitFor('a leads', async () => (a.elector.isLeader ? true : undefined), 10_000);
    // steady state: each renewal is one update against the lease a wrote last, no read. Count a's requests against
    // the lease's writes (a watch sees every one), so that the check does not depend on timing.
    let writes = 0;
    const watch = await new k8s.Watch(admin).watch(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, { fieldSelector: `metadata.name=${name}` }, (type) => {
      if (type === 'MODIFIED') writes++;
    }, () => undefined);
    await waitFor('the watch to see a renewal', () => (writes > 0 ? true : undefined), 5_000, { pollMs: 20 });
    const [before, writesBefore] = [a.elector.requests, writes];
    // the window: a dozen renewals, by the watch's count
    await waitFor('12 renewals', () => (writes - writesBefore >= 12 ? true : undefined), 10_000, { pollMs: 20 });
    const [sent, written] = [a.elector.requests - before, writes - writesBefore];
    watch.abort();
    // a read and a write per renewal would be twice as many; +2: renewals in flight or whose event is still on its
    // way at either end of the window
    expect(sent).toBeLessThanOrEqual(written + 2);

    // someone else holds the lease now (a fresh renewTime): a's next renewal conflicts, reads, and a steps down
    const b = candidate(name, 'b');
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

  it('a standby whose clock is 14 s ahead never takes a renewed lease, takes a released one at once, and a released leader never leads again', async () => {
    const name = leaseName();
    // the default timings (15 s lease, 10 s renew deadline, 2 s retry): comparing the leader's renewTime with a
    // clock 14 s ahead, the standby would see the lease expire one second after every renewal
    const timings = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };
    const a = candidate(name, 'a', timings);
    await waitFor('a leads', async () => (a.elector.isLeader ? true : undefined), 10_000);
    // a retry period unlike the leader's, so that its reads fall at every age of the leader's last renewal
    const ahead = candidate(name, 'ahead', { ...timings, retryPeriodSeconds: 1.3 }, { wall: () => new Date(Date.now() + 14_000), monotonicMs: () => performance.now() });
    // that the standby never leads needs a window: 14 of its attempts (a read each, every 1.3 s: some 17 s, more than
    // a lease duration), sampled every 250 ms; the leader leads at every sample
    let samples = 0;
    await waitFor('14 attempts by the standby', () => {
      if (ahead.elector.isLeader || !a.elector.isLeader) throw new Error(`after ${samples} samples: the standby leads ${ahead.elector.isLeader}, the leader ${a.elector.isLeader}`);
      samples++;
      if (ahead.elector.requests < 14) throw new NotYet(`${ahead.elector.requests} attempts`);
      return true;
    }, 30_000);
    expect(samples).toBeGreaterThan(40);
    expect(ahead.elector.transitions.acquired).toBe(0);
    expect(a.elector.transitions).toEqual({ acquired: 1, lost: 0, released: 0 });

    await a.elector.release();
    expect(a.elector.transitions).toEqual({ acquired: 1, lost: 0, released: 1 });
    // an empty holder is a free lease: the standby takes it on its next attempt, not after a lease duration
    await waitFor('the standby leads', async () => (ahead.elector.isLeader ? true : undefined), 2 * timings.retryPeriodSeconds * 1000 + 2_000);
    await ahead.elector.release();
    // the lease is free again; a, released, does not campaign for it. That something does not happen needs a window:
    // a bounded wait of three of a's retry periods, and a's own request counter must not move in it
    const sentByA = a.elector.requests;
    await new Promise((r) => setTimeout(r, 3 * timings.retryPeriodSeconds * 1000));
    expect(a.elector.requests).toBe(sentByA);
    const lease = await leases.readNamespacedLease({ name, namespace });
    expect(lease.spec!.holderIdentity).toBe('');
    expect(a.elector.isLeader).toBe(false);
    expect(a.elector.transitions.acquired).toBe(1);
  }, 60_000);

  it('five candidates starting together elect one leader, and never two at once', async () => {
    const name = leaseName();
    const all = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => candidate(name, id));
    // "never two at once" needs a window: until every candidate has made 24 lease requests (at 0.25 s, some 6 s:
    // three lease durations), sampled every 20 ms
    let most = 0;
    await waitFor('24 lease requests by every candidate', () => {
      most = Math.max(most, all.filter((c) => c.elector.holds()).length);
      if (most > 1) throw new Error(`${most} candidates hold the lease at once`);
      const fewest = Math.min(...all.map((c) => c.elector.requests));
      if (fewest < 24) throw new NotYet(`${fewest} requests by the slowest candidate`);
      return true;
    }, 15_000, { pollMs: 20 });
    const leaders = all.filter((c) => c.elector.holds());
    expect(most).toBe(1);
    expect(leaders).toHaveLength(1);
    // the one leader won once and kept it: nobody else ever acquired
    expect(all.reduce((n, c) => n + c.elector.transitions.acquired, 0)).toBe(1);
    const lease = await leases.readNamespacedLease({ name, namespace });
    expect(lease.spec!.holderIdentity).toBe(['c1', 'c2', 'c3', 'c4', 'c5'][all.indexOf(leaders[0]!)]);
  }, 30_000);

  it('fences writes: once a partitioned leader passes its renew deadline, a mutating request fails before it is sent; reads go on', async () => {
    const name = leaseName();
    const dir = mkdtempSync(join(tmpdir(), 'leader-fence-'));
    const proxy = await startFaultProxy({ upstreamKubeconfig: gardenKubeconfig(), kubeconfigOut: join(dir, 'kubeconfig') });
    const writer = loadKubeConfig(gardenKubeconfig()); // the controller's own connection: not partitioned here
    try {
      const a = candidate(name, 'a', FAST, undefined, proxy.kubeconfig);
      writer.writeGuard = () => a.elector.assertHolds();
      const core = writer.makeApiClient(k8s.CoreV1Api);
      await waitFor('a leads', async () => (a.elector.holds() ? true : undefined), 10_000);
      const cm = `${name}-cm`;
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: cm }, data: { n: '1' } } });
      proxy.blackhole(true);
      // its last renewal was sent before the cut, so it stops holding within the renew deadline (+ 600 ms: a late
      // poll, a busy machine): that bound is this wait's timeout
      await waitFor('a to stop holding', () => (a.elector.holds() ? undefined : true), FAST.renewDeadlineSeconds * 1000 + 600, { pollMs: 20 });
      expect(a.events).toEqual(['start', 'stop']);
      expect(a.elector.transitions).toEqual({ acquired: 1, lost: 1, released: 0 });
      const sent = writer.requests;
      const refused = await core.patchNamespacedConfigMap({ name: cm, namespace, body: [{ op: 'replace', path: '/data/n', value: '2' }] }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NotLeaderError);
      expect(writer.requests).toBe(sent); // nothing left the process
      const read = await core.readNamespacedConfigMap({ name: cm, namespace });
      expect(read.data).toEqual({ n: '1' });
      writer.writeGuard = undefined;
      await core.deleteNamespacedConfigMap({ name: cm, namespace });
    } finally {
      proxy.blackhole(false);
      await proxy.stop();
      writer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
