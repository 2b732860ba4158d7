// The effect executor against the real API: emergency stops it did not set are never removed, reverts restore
// the previous chart, repeated effects write nothing, and shoot reconciles are triggered at the given rate.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_STOPPED_BY, Executor } from '../../src/controller/executor.js';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, Gardenlet, Seed, Shoot } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { createLandscape, deleteLandscape, gardenletChartRef, LABEL_LANDSCAPE } from '../../src/sim/landscape.js';
import { createLogger } from '../../src/util/log.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('x');
const sel = { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` };
let seeds: Seed[] = [];
let gardenlets: Gardenlet[] = [];
let shoots: Shoot[] = [];
const refresh = async () => {
  [seeds, gardenlets, shoots] = await Promise.all([
    client.list(RESOURCES.seeds, Seed, sel),
    client.list(RESOURCES.gardenlets, Gardenlet, { ...sel, namespace: 'garden' }),
    client.list(RESOURCES.shoots, Shoot, sel),
  ]);
};
const executor = new Executor(
  client,
  {
    seed: (n) => seeds.find((s) => s.metadata.name === n),
    seeds: () => seeds,
    gardenlet: (n) => gardenlets.find((g) => g.metadata.name === n),
    shootsOn: (n) => shoots.filter((s) => s.spec.seedName === n),
  },
  createLogger({ level: 'error' }),
);
const [A, B] = [`${prefix}-aws-eu-1-0`, `${prefix}-aws-eu-1-1`];
const rollout = { name: `${prefix}-r` };

beforeAll(async () => {
  await createLandscape(client, { prefix, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 2, projects: 1, shootsPerSeed: 6, gardenerVersion: 'v1.149.0' });
  await refresh();
}, 120_000);

afterAll(async () => {
  executor.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('executor', () => {
  it('never takes over or removes an emergency stop an operator set', async () => {
    await client.patch(RESOURCES.seeds, A, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: 'true' } } });
    await refresh();
    await executor.apply(rollout, [{ type: 'emergencyStopSeed', seed: A }, { type: 'emergencyStopSeed', seed: B }]);
    await refresh();
    const ann = (n: string) => seeds.find((s) => s.metadata.name === n)!.metadata.annotations ?? {};
    expect(ann(A)[ANNOTATION_STOPPED_BY]).toBeUndefined();
    expect(ann(B)).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: rollout.name });
    await executor.apply(rollout, [{ type: 'clearEmergencyStop', seed: A }]);
    expect(await executor.cleanup(rollout)).toBe(1);
    await refresh();
    expect(ann(A)[ANNOTATION_EMERGENCY_STOP]).toBe('true'); // the operator's stays
    expect(ann(B)[ANNOTATION_EMERGENCY_STOP]).toBeUndefined(); // ours is gone
  });

  it('promotes once, writes nothing for a repeated effect, and reverts to the previous chart', async () => {
    const before = gardenlets.find((g) => g.metadata.name === A)!;
    const previousRef = { ref: before.spec.deployment!.helm!.ociRepository.ref! };
    const promote = { type: 'promoteSeed' as const, seed: A, ociRepository: { repository: 'registry.example.com/gardenlet', tag: 'v1.150.0' }, version: 'v1.150.0' };
    await executor.apply(rollout, [promote]);
    await refresh();
    const writes = executor.writes.gardenletChart;
    await executor.apply(rollout, [promote]);
    expect(executor.writes.gardenletChart).toBe(writes); // already there: no write
    const promoted = gardenlets.find((g) => g.metadata.name === A)!;
    expect(promoted.spec.deployment!.helm!.ociRepository).toEqual({ repository: 'registry.example.com/gardenlet', tag: 'v1.150.0' }); // ref replaced, not mixed
    expect(promoted.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    await executor.apply(rollout, [{ type: 'revertSeed', seed: A, previousVersion: 'v1.149.0', previousRef }]);
    await refresh();
    expect(gardenlets.find((g) => g.metadata.name === A)!.spec.deployment!.helm!.ociRepository).toEqual({ ref: gardenletChartRef('v1.149.0') });
  });

  it('triggers shoot reconciles at the given rate (gardener-apiserver turns them into generation bumps)', async () => {
    const before = new Map(shoots.filter((s) => s.spec.seedName === B).map((s) => [s.metadata.name, s.metadata.generation ?? 0]));
    const started = Date.now();
    await executor.apply(rollout, [{ type: 'triggerShootReconciles', seed: B, maxPerMinute: 120 }]);
    await new Promise((r) => setTimeout(r, 1600));
    await refresh();
    const requested = () => shoots.filter((s) => s.spec.seedName === B && (s.metadata.generation ?? 0) > before.get(s.metadata.name)!);
    const early = requested().length;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThanOrEqual(2 * Math.ceil((Date.now() - started) / 1000)); // 120/min = 2 per second
    // the annotation itself does not stay: gardener-apiserver consumed it
    expect(requested().every((s) => !s.metadata.annotations?.[ANNOTATION_GARDENER_OPERATION])).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    await refresh();
    expect(requested()).toHaveLength(6);
    // a second trigger skips shoots whose reconcile is still pending (observedGeneration behind generation)
    const writes = executor.writes.shootReconcile;
    await executor.apply(rollout, [{ type: 'triggerShootReconciles', seed: B, maxPerMinute: 120 }]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(executor.writes.shootReconcile).toBe(writes);
  });
});
