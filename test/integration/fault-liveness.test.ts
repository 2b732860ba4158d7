// Liveness (issue 15): a reconcile wedged on a call that never answers (the fault proxy accepts the rollout's writes
// and never answers them; the request timeout is set far above the stuck bound) makes /healthz fail, so the kubelet
// would restart the pod, while the lease keeps renewing and other rollouts keep being reconciled. Once the call
// fails, /healthz is ok again.
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

const STUCK_SECONDS = 10;
const client = gardenClient();
const prefix = uniquePrefix('v');
const dir = mkdtempSync(join(tmpdir(), 'fault-liveness-'));
const names = [`${prefix}-wedged`, `${prefix}-other`];
let proxy: FaultProxy;
let controller: ControllerProcess | undefined;
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 2, projects: 1, shootsPerSeed: 2 }));
  proxy = await startFaultProxy({ upstreamKubeconfig: gardenKubeconfig(), kubeconfigOut: join(dir, 'kubeconfig') });
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`, ['--request-timeout-seconds', '300', '--stuck-reconcile-seconds', String(STUCK_SECONDS), '--workers', '2'], true, {
    kubeconfig: proxy.kubeconfig,
  });
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  await deleteRollouts(client, names).catch(() => undefined);
  await proxy?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

const healthz = async () => {
  const res = await fetch(`http://127.0.0.1:${controller!.port()}/healthz`);
  return { code: res.status, body: await res.text() };
};
const metric = async (name: string) => {
  const text = await (await fetch(`http://127.0.0.1:${controller!.port()}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

describe('liveness', () => {
  it('fails /healthz while a reconcile is wedged past the stuck bound, keeps the lease and the other rollouts, and recovers', async () => {
    const [wedged, other] = names as [string, string];
    expect((await healthz()).code).toBe(200);
    const hang = proxy.failRequests({ methods: ['PATCH', 'PUT', 'POST'], path: new RegExp(`/canaryrollouts/${wedged}(/|\\?|$)`), status: 'hang' });
    const spec = { waves: [{ name: 'all', percent: 100 }], healthGate: { minSampleSize: 1 }, bake: '1s' };
    await client.create(RESOURCES.canaryRollouts, gardenletRollout(wedged, prefix, 'v1.150.0', { ...spec, seedSelector: { matchLabels: { 'canary.test/none': 'none' } } }));
    await waitFor('a write of the wedged rollout held', async () => (hang.hits > 0 ? true : undefined), 30_000, controller);

    const failing = await waitFor('/healthz failing', async () => {
      const h = await healthz();
      return h.code === 500 ? h : undefined;
    }, (STUCK_SECONDS + 10) * 1000, controller);
    expect(failing.body).toMatch(new RegExp(`^reconcile stuck: ${wedged} for \\d+s$`));
    expect(await metric('canary_rollout_stuck_reconciles')).toBe(1);
    expect(await metric('canary_rollout_leader')).toBe(1); // the lease renews on its own connection and deadline

    // another rollout is reconciled meanwhile (another worker): the wedged call holds one rollout, not all
    await client.create(RESOURCES.canaryRollouts, gardenletRollout(other, prefix, 'v1.150.0', spec));
    await waitFor('the other rollout reconciled', async () => ((await client.get(RESOURCES.canaryRollouts, CanaryRollout, other)).status?.phase ? true : undefined), 60_000, controller);
    expect((await healthz()).code).toBe(500);

    // the wedged call fails (its connection reset), the retry goes through: live again
    hang.remove();
    proxy.resetAll();
    await waitFor('/healthz ok again', async () => ((await healthz()).code === 200 ? true : undefined), 60_000, controller);
    await waitFor('the wedged rollout reconciled', async () => ((await client.get(RESOURCES.canaryRollouts, CanaryRollout, wedged)).status?.phase ? true : undefined), 60_000, controller);
  }, 240_000);
});
