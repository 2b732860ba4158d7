// The leader partitioned from the API (issue 15): two controller replicas, each behind its own fault proxy in front
// of the real kube-apiserver, with the default lease timings (15 s lease, 10 s renew deadline, 2 s retry period).
// The leader's proxy blackholes everything for FAULT_LEADER_SECONDS (default 60; 300 for the figure in the issue):
// the leader stops leading within its renew deadline (and exits), the standby leads within the lease duration after
// that, the old leader's proxy sees no mutating request after its deadline, and the standby finishes the rollout.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { gardenClient, gardenKubeconfig, uniquePrefix } from '../support/garden.js';

const PARTITION_MS = Number(process.env.FAULT_LEADER_SECONDS ?? 60) * 1000;
const LEASE_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2_000;
const client = gardenClient();
const prefix = uniquePrefix('b');
const selector = `${LABEL_LANDSCAPE}=${prefix}`;
const dir = mkdtempSync(join(tmpdir(), 'fault-leader-'));
const proxies: FaultProxy[] = [];
const replicas: ControllerProcess[] = [];
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 4, projects: 1, shootsPerSeed: 3 }));
}, 120_000);

afterAll(async () => {
  await deleteRollouts(client, [`${prefix}-part`]).catch(() => undefined);
  for (const r of replicas) await r.stop();
  for (const p of proxies) await p.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

/** When a replica logged `msg` (its structured log's ts), or undefined. */
function loggedAt(r: ControllerProcess, msg: string): number | undefined {
  const line = r.logs.find((l) => l.includes(`"msg":"${msg}"`));
  return line ? Date.parse((JSON.parse(line) as { ts: string }).ts) : undefined;
}

async function replica(name: string, waitForLeader: boolean) {
  const proxy = await startFaultProxy({ upstreamKubeconfig: gardenKubeconfig(), kubeconfigOut: join(dir, `${name}.kubeconfig`), name });
  proxies.push(proxy);
  const r = await startController(selector, ['--identity', name], waitForLeader, { kubeconfig: proxy.kubeconfig });
  replicas.push(r);
  return { proxy, r };
}

describe('a partitioned leader', () => {
  it('stops leading within its renew deadline, writes nothing after it, and the standby takes over within the lease duration', async () => {
    const a = await replica('replica-a', true);
    const b = await replica('replica-b', false);
    const name = `${prefix}-part`;
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, 'v1.150.0', {
        waves: [{ name: 'canary', count: 1, bake: '30s' }, { name: 'rest', percent: 100, maxConcurrentSeeds: 1 }],
        healthGate: { minSampleSize: 3 },
        bake: '2s',
      }),
    );
    const get = () => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
    await waitFor('the canary baking', async () => ((await get()).status?.waves?.[0]?.phase === 'Baking' ? true : undefined), 90_000, a.r);
    expect(a.proxy.mutating().length).toBeGreaterThan(0); // a is the one writing

    a.proxy.blackhole(true);
    const cutAt = Date.now();
    await waitFor('a to exit', () => a.r.child.exitCode ?? a.r.child.signalCode ?? undefined, RENEW_DEADLINE_MS + 5_000, a.r);
    expect(await a.r.exited).toEqual({ code: 1, signal: null }); // lost leadership: main exits so that nothing stale is written
    const stoppedAt = loggedAt(a.r, 'stopped leading');
    expect(stoppedAt).toBeDefined();
    // its last successful renewal was sent before the cut, so its deadline is at most cutAt + renewDeadline
    expect(stoppedAt! - cutAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 500);

    const ledAt = await waitFor('b leads', async () => loggedAt(b.r, 'became leader'), LEASE_MS + 2 * RETRY_MS + 5_000, b.r);
    expect(ledAt).toBeGreaterThan(stoppedAt!); // never two leaders: b leads only after a stopped
    expect(ledAt - stoppedAt!).toBeLessThanOrEqual(LEASE_MS);
    // b saw a's last renewal within one retry period of it; it takes the lease one lease duration after that
    expect(ledAt - cutAt).toBeLessThanOrEqual(LEASE_MS + 2 * RETRY_MS + 1_000);

    await waitFor('the rollout Succeeded under b', async () => ((await get()).status?.phase === 'Succeeded' ? true : undefined), 180_000, b.r);
    // the partition lasts PARTITION_MS whatever happens meanwhile: the fault's length, not a wait for a condition
    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + PARTITION_MS - Date.now())));
    a.proxy.blackhole(false);
    // the fence: nothing mutating left a after its deadline (the proxy logs requests even while blackholed)
    const late = a.proxy.mutating(cutAt + RENEW_DEADLINE_MS);
    expect(late.map((e) => `${e.method} ${e.path}`)).toEqual([]);
    const duringCut = a.proxy.mutating(cutAt);
    expect(b.proxy.mutating(cutAt).length).toBeGreaterThan(0);
    process.stderr.write(
      `[fault-leader] partition ${PARTITION_MS / 1000}s: a stopped leading ${((stoppedAt! - cutAt) / 1000).toFixed(1)}s after the cut (renew deadline 10s), ` +
        `b led ${((ledAt - stoppedAt!) / 1000).toFixed(1)}s after that (lease 15s), a's mutating requests after the cut: ${duringCut.length} (all lease renewals: ${duringCut.every((e) => e.path.includes('/leases/'))}), after its deadline: ${late.length}\n`,
    );
  }, PARTITION_MS + 300_000);
});
