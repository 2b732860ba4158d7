// End to end on the real garden API: an autoPick canary on a landscape where each region has a busy production
// seed, a small evaluation seed and a development/testing seed. The controller (its own process) plans from the
// Seeds and Shoots gardener-apiserver serves, writes the plan into the CanaryRollout status, and promotes only the
// low-exposure seeds it picked; their shoots alone give the canary its sample.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { Gardenlet } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('a');
const name = `${prefix}-pick`;
let controller: ControllerProcess | undefined;
let sim: LiveSimulator | undefined;

// aws/eu-1 and gcp/us-1, three seeds each: -0 has 6 production shoots, -1 has 2 evaluation shoots, -2 has 4
// development and testing shoots.
const landscape = smallLandscape(prefix, {
  shootsPerSeed: 0,
  seedProfiles: [
    { shoots: 6, purposes: ['production'] },
    { shoots: 2, purposes: ['evaluation'] },
    { shoots: 4, purposes: ['development', 'testing'] },
  ],
});

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, landscape);
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 180_000);

afterAll(async () => {
  await deleteRollouts(client, [name]).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('autoPick end to end', () => {
  it('plans and promotes the low-exposure seeds that reach the minimum sample, not the busy production ones', async () => {
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, 'v1.150.0', {
        waves: [
          { name: 'canary', autoPick: {}, healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '10m' },
          { name: 'rest', percent: 100 },
        ],
        progressDeadline: '5m',
      }),
    );
    // the rule: one seed per provider/region with the fewest production shoots, then the fewest shoots: -1 of each
    // (2 + 2 = 4 countable); one shoot short of 5, the next seed without production shoots is a -2, aws's by name.
    // The busiest-seed rule took both -0: 12 shoots, all production.
    const baking = await waitFor('the canary wave baking', async () => {
      const r = await client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
      return r.status?.history?.some((h) => h.event === 'BakeStarted' && h.wave === 'canary') ? r : undefined;
    }, 60_000, controller);
    const st = baking.status!;
    const canary = [`${prefix}-aws-eu-1-1`, `${prefix}-aws-eu-1-2`, `${prefix}-gcp-us-1-1`];
    expect(st.plan!.waves[0]!.seeds.map((s) => s.name)).toEqual(canary);
    expect(st.plan!.waves[0]).toMatchObject({ shoots: 8, productionShoots: 0, shootsByPurpose: { development: 2, evaluation: 4, testing: 2 } });
    expect(st.history!.find((h) => h.event === 'Planned')!.message).toContain('wave canary: autoPick exposes 8 shoots (0 production) for 8 countable shoots (minimum sample 5)');
    // the gate passed on the picked seeds' shoots alone, and the production seeds still run the old gardenlet
    expect(st.waves![0]!.counts!.exposed).toBeGreaterThanOrEqual(5);
    expect(st.waves![0]!.counts!.unhealthy).toBe(0);
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    const promoted = gardenlets.filter((g) => g.spec.deployment?.helm?.ociRepository.ref === gardenletChartRef('v1.150.0')).map((g) => g.metadata.name);
    expect(promoted.sort()).toEqual(canary);
  }, 90_000);
});
