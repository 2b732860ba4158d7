// Two controller replicas: only the leader writes; kill -9 the leader and the other takes over (once the lease it
// last saw renewed expires: 15 s) and finishes the rollout. fault-leader.test.ts measures the take-over's timing.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { leaseName, startController, type ControllerProcess } from '../support/controller.js';
import { eventually, waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const leases = client.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
const prefix = uniquePrefix('l');
const selector = `${LABEL_LANDSCAPE}=${prefix}`;
const replicas: ControllerProcess[] = [];
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 4, projects: 1, shootsPerSeed: 4 }));
}, 120_000);

afterAll(async () => {
  await deleteRollouts(client, [`${prefix}-ha`]).catch(() => undefined);
  for (const r of replicas) await r.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('leader election', () => {
  it('lets only the leader write and hands over when the leader dies', async () => {
    const a = await startController(selector);
    replicas.push(a);
    const b = await startController(selector, [], false);
    replicas.push(b);
    const name = `${prefix}-ha`;
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, 'v1.150.0', {
        waves: [{ name: 'canary', count: 1, bake: '5s' }, { name: 'rest', percent: 100, maxConcurrentSeeds: 1 }],
        healthGate: { minSampleSize: 3 },
        bake: '2s',
      }),
    );
    const get = () => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
    await eventually('Progressing', async () => expect((await get()).status?.phase).toBe('Progressing'), 20_000, a);
    expect(await metric(a.port(), 'canary_rollout_leader')).toBe(1);
    expect(await metric(b.port(), 'canary_rollout_leader')).toBe(0);
    expect(await metric(a.port(), 'canary_rollout_writes_total')).toBeGreaterThan(0);
    expect(await metric(b.port(), 'canary_rollout_writes_total')).toBe(0);

    const lease = () => leases.readNamespacedLease({ name: leaseName(selector), namespace: 'garden' });
    const held = await lease();
    const killedAt = Date.now();
    await a.stop('SIGKILL');
    // 30 s: two lease durations; a standby that ignored the lease's expiry would never take over
    await waitFor('the standby to lead', () => (b.logs.some((l) => l.includes('"msg":"became leader"')) ? true : undefined), 30_000, { pollMs: 100, logs: b.logs });
    process.stderr.write(`[e2e-leader] take-over after kill -9: ${Date.now() - killedAt} ms\n`);
    // one hand-over: the lease changed holder once, and b says it leads
    const taken = await lease();
    expect(taken.spec?.holderIdentity).not.toBe(held.spec?.holderIdentity);
    expect(taken.spec?.leaseTransitions).toBe((held.spec?.leaseTransitions ?? 0) + 1);
    expect(await metric(b.port(), 'canary_rollout_leader')).toBe(1);
    await eventually('Succeeded', async () => expect((await get()).status).toMatchObject({ phase: 'Succeeded' }), 120_000, b);
    expect(await metric(b.port(), 'canary_rollout_writes_total')).toBeGreaterThan(0);
  }, 180_000);
});
