// The planner on objects read back from gardener-apiserver: ManagedSeed -> its shoot in `garden` -> parent
// seed must come out of real Gardener objects, and shoot counts must match what the API lists per seed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import { ManagedSeed, Seed, Shoot } from '../../src/gardener/api.js';
import { observeSeeds, observeShoots, planRollout } from '../../src/engine/planner.js';
import { RESOURCES } from '../../src/kube/client.js';
import { createLandscape, type CreatedLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('p');
let landscape: CreatedLandscape;

beforeAll(async () => {
  landscape = await createLandscape(client, {
    prefix,
    providers: [
      { type: 'aws', regions: ['eu-west-1', 'us-east-1'] },
      { type: 'gcp', regions: ['europe-west1'] },
    ],
    seedsPerRegion: 2,
    managedSeeds: 2,
    projects: 2,
    shootsPerSeed: 3,
    gardenerVersion: 'v1.149.0',
  });
});

afterAll(async () => {
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('planning a real landscape', () => {
  it('groups managed seeds with the seed whose gardenlet deploys them', async () => {
    const selector = { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` };
    const [seeds, managedSeeds, gardenShoots, shoots] = await Promise.all([
      client.list(RESOURCES.seeds, Seed, selector),
      client.list(RESOURCES.managedSeeds, ManagedSeed, { ...selector, namespace: 'garden' }),
      client.list(RESOURCES.shoots, Shoot, { ...selector, namespace: 'garden' }),
      client.list(RESOURCES.shoots, Shoot, selector),
    ]);
    const observed = observeSeeds(seeds, managedSeeds, gardenShoots);
    const expectedParents = Object.fromEntries(landscape.plan.seeds.filter((s) => s.parent).map((s) => [s.name, s.parent]));
    expect(Object.fromEntries(observed.filter((s) => s.parent).map((s) => [s.name, s.parent]))).toEqual(expectedParents);

    const spec = CanaryRolloutSpec.parse({
      target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
      seedSelector: { matchLabels: { [LABEL_LANDSCAPE]: prefix } },
      waves: [{ name: 'canary', autoPick: { coverage: 'Provider' } }, { name: 'rest', percent: 100 }],
    });
    const { plan } = planRollout(spec, observed, observeShoots(shoots), new Date());
    const planned = plan.waves.flatMap((w) => w.seeds);
    expect(planned.map((s) => s.name).sort()).toEqual(landscape.plan.seeds.map((s) => s.name).sort());
    // every managed seed sits in the same wave as its parent
    for (const [child, parent] of Object.entries(expectedParents)) {
      const wave = plan.waves.find((w) => w.seeds.some((s) => s.name === child))!;
      expect(wave.seeds.map((s) => s.name)).toContain(parent);
      expect(wave.seeds.find((s) => s.name === child)!.managedBy).toBe(parent);
    }
    // shoot counts: workload shoots per seed plus the garden shoots hosting managed seeds
    expect(plan.shoots).toBe(shoots.length);
  });
});
