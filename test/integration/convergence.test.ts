// Level-triggered convergence on the real garden API, beyond the crash boundaries (crash-boundaries.test.ts):
// - a rollout that nothing changes is not rewritten: no status write, no conflict, however often it reconciles;
// - labels gardenlet resets at start-up (it sets Seed labels to its seedConfig) are put back by the next reconcile;
// - deleting a rollout that holds emergency stops waits, says why, and goes ahead once the rollout is aborted.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_OPERATION, CanaryRollout } from '../../src/api/v1alpha1.js';
import { ANNOTATION_STOPPED_BY, LABEL_CANARY, LABEL_WAVE } from '../../src/controller/seed-marks.js';
import { ANNOTATION_EMERGENCY_STOP, Seed } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { eventually, waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('v');
const canary = `${prefix}-aws-eu-1-0`;
let controller: ControllerProcess;
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { shootsPerSeed: 4 }), { faults: { faultyVersion: 'v1.150.9', unhealthyRatio: 0.8 } });
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 180_000);

afterAll(async () => {
  await deleteRollouts(client, ['quiet', 'held'].map((n) => `${prefix}-${n}`)).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

function rollout(name: string, version: string) {
  return gardenletRollout(name, prefix, version, {
    waves: [
      { name: 'canary', seedNames: [canary], bake: '1h', healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } },
      { name: 'rest', percent: 100 },
    ],
    healthGate: { minSampleSize: 3 },
    progressDeadline: '10m',
    onHalt: { emergencyStop: true, rollback: 'Freeze' },
  });
}

const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
const seed = (name: string) => client.get(RESOURCES.seeds, Seed, name);

/** The controller's own counters: reconciles by result, and writes to the garden (status, seeds, ...). */
async function metrics(): Promise<{ reconciles: number; conflicts: number; writes: number }> {
  const text = await (await fetch(`http://127.0.0.1:${controller.port()}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  return {
    reconciles: sum(/^canary_rollout_reconcile_duration_seconds_count\{[^}]*\} (\S+)$/gm),
    conflicts: sum(/^canary_rollout_reconcile_duration_seconds_count\{result="conflict"\} (\S+)$/gm),
    writes: sum(/^canary_rollout_writes_total (\S+)$/gm),
  };
}

let nudges = 0;

/** Makes the landscape change in a way no rollout cares about (a seed annotation), and waits for the reconcile it causes. */
async function nudge(): Promise<void> {
  const before = (await metrics()).reconciles;
  await client.patch(RESOURCES.seeds, `${prefix}-gcp-us-1-2`, { metadata: { annotations: { 'test.canary.gardener.cloud/nudge': String(++nudges) } } });
  await waitFor(`a reconcile after the nudge (reconciles before: ${before})`, async () => ((await metrics()).reconciles > before ? true : undefined), 20_000, controller);
}

describe('convergence', () => {
  it('writes nothing while a baking rollout sees nothing change, however often it reconciles', async () => {
    const name = `${prefix}-quiet`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.150.0'));
    await waitFor('canary baking', async () => ((await get(name)).status?.waves?.[0]?.phase === 'Baking' ? true : undefined), 90_000, controller);
    // let the canary's shoot reconciles finish: until then the counts legitimately change
    let last = '';
    await waitFor('counts settled', async () => {
      const counts = JSON.stringify((await get(name)).status?.waves?.[0]?.counts);
      const settled = counts === last;
      last = counts;
      await nudge();
      return settled ? true : undefined;
    }, 60_000, controller);
    const before = await metrics();
    const rv = (await get(name)).metadata.resourceVersion;
    for (let i = 0; i < 6; i++) await nudge();
    const after = await metrics();
    expect(after.reconciles - before.reconciles).toBeGreaterThanOrEqual(6);
    expect(after.writes - before.writes).toBe(0);
    expect(after.conflicts - before.conflicts).toBe(0);
    // nor did the whole rollout so far, from creation through promotion to the bake: the controller decides from
    // its own last write while its cache lags behind it, instead of running into 409s against the stale cache
    expect(after.conflicts).toBe(0);
    expect((await get(name)).metadata.resourceVersion).toBe(rv);
  }, 180_000);

  it('puts back the membership labels gardenlet resets at start-up, within a reconcile', async () => {
    const name = `${prefix}-quiet`;
    await eventually('canary labelled', async () => {
      const s = await seed(canary);
      expect(s.metadata.labels).toMatchObject({ [LABEL_CANARY]: 'true', [LABEL_WAVE]: 'canary' });
      expect(s.metadata.annotations?.['canary.gardener.cloud/rollout']).toBe(name);
    }, 15_000, controller);
    // gardenlet at start-up: the Seed's labels become its seedConfig's, which do not carry ours
    await client.patch(RESOURCES.seeds, canary, { metadata: { labels: { [LABEL_CANARY]: null, [LABEL_WAVE]: null } } });
    await eventually('labels restored', async () => {
      expect((await seed(canary)).metadata.labels).toMatchObject({ [LABEL_CANARY]: 'true', [LABEL_WAVE]: 'canary' });
    }, 15_000, controller);
    await deleteRollouts(client, [name]);
    await eventually('labels removed with the rollout', async () => {
      const labels = (await seed(canary)).metadata.labels ?? {};
      expect([labels[LABEL_CANARY], labels[LABEL_WAVE]]).toEqual([undefined, undefined]);
    }, 15_000, controller);
  }, 120_000);

  it('keeps a halted rollout (and its stops) while its deletion waits; an abort lets the deletion go ahead', async () => {
    const name = `${prefix}-held`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.150.9'));
    await waitFor('Halted', async () => ((await get(name)).status?.phase === 'Halted' ? true : undefined), 120_000, controller);
    await eventually('canary stopped', async () => {
      expect((await seed(canary)).metadata.annotations).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: name });
    }, 15_000, controller);

    await client.delete(RESOURCES.canaryRollouts, name);
    const waiting = await waitFor('DeletionBlocked', async () => {
      const r = await get(name);
      return r.status?.conditions?.find((c) => c.type === 'DeletionBlocked' && c.status === 'True') ? r : undefined;
    }, 30_000, controller);
    expect(waiting.metadata.deletionTimestamp).toBeDefined();
    expect(waiting.status!.phase).toBe('Halted');
    expect(waiting.status!.conditions!.find((c) => c.type === 'DeletionBlocked')!.message).toMatch(/holds emergency stops on 1 seeds.*confirmation\.gardener\.cloud\/deletion=true/);
    expect((await seed(canary)).metadata.annotations?.[ANNOTATION_EMERGENCY_STOP]).toBe('true');

    // operations still work on a rollout being deleted: abort (Freeze) finishes it, and then the deletion goes ahead
    await client.patch(RESOURCES.canaryRollouts, name, { metadata: { annotations: { [ANNOTATION_OPERATION]: 'abort' } } });
    await waitFor('deleted', async () => ((await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, name)) ? undefined : true), 30_000, controller);
    const a = (await seed(canary)).metadata.annotations ?? {};
    expect([a[ANNOTATION_EMERGENCY_STOP], a[ANNOTATION_STOPPED_BY], a['canary.gardener.cloud/rollout']]).toEqual([undefined, undefined, undefined]);
  }, 180_000);
});
