// End to end on the real garden API: the health gate reads Gardener as gardenlet writes it (issue 14). The
// simulator plays gardenlet: a failed reconcile is retried at once and each retry runs for minutes (Processing with
// the previous lastErrors), and a successful one leaves the health conditions Progressing until the shoot care
// controller looks, which here it does not within a test. Each case takes its own seeds of one landscape.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRollout, type Operation } from '../../src/api/v1alpha1.js';
import { ANNOTATION_STOPPED_BY } from '../../src/controller/seed-marks.js';
import { operationPatch } from '../../src/cli/kubectl-canary/commands.js';
import { computeShootStatus } from '../../src/engine/health.js';
import { restoreContext } from '../../src/engine/persisted.js';
import { ANNOTATION_EMERGENCY_STOP, Gardenlet, Seed, Shoot } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { eventually, waitFor as waitUntil } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('g');
const FAULTY = 'v1.150.9';
const GOOD = 'v1.150.0';
const seed = (name: string) => `${prefix}-${name}`;

let controller: ControllerProcess | undefined;
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { shootsPerSeed: 8 }), {
    faults: { faultyVersion: FAULTY, unhealthyRatio: 0.5 },
    retryMs: 0,
    retryRunMs: 600_000,
    careDelayMs: 600_000,
  });
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 180_000);

const names = ['retry', 'baseline', 'empty', 'paused', 'blip'].map((n) => `${prefix}-${n}`);
// one writer per seed: each case's rollout goes before the next starts, whatever happened to it
afterEach(async () => {
  for (const n of names) await deleteRollouts(client, [n]).catch(() => undefined);
});
afterAll(async () => {
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

function rollout(name: string, version: string, waves: object[], gate: object = {}, emergencyStop = true) {
  return gardenletRollout(name, prefix, version, {
    waves: waves as never,
    healthGate: { minSampleSize: 3, maxUnhealthyRatio: 0.1, ...gate },
    bake: '2s',
    progressDeadline: '10m',
    onHalt: { emergencyStop, rollback: 'Freeze' },
  });
}
const canaryWave = (name: string, bake = '2s') => ({ name: 'canary', seedNames: [seed(name)], healthGate: { maxUnhealthyRatio: 0.1, minSampleSize: 3 }, bake });

const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000) => waitUntil(what, fn, timeoutMs, controller);
const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
const phase = (name: string, want: string) => waitFor(want, async () => ((await get(name)).status?.phase === want ? get(name) : undefined));
const shootsOn = async (s: string) => (await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` })).filter((x) => (x.status?.seedName ?? x.spec.seedName) === seed(s));
const retrying = (sh: Shoot) => sh.status?.lastOperation?.state === 'Processing' && (sh.status.lastErrors?.length ?? 0) > 0;
const operate = (name: string, op: Operation) => client.patch(RESOURCES.canaryRollouts, name, operationPatch(op, 'e2e'));
/** The per-seed state the engine reads back from a rollout's status (persisted.ts). */
const seedStates = (r: CanaryRollout) => restoreContext(r.spec, r.status)?.ctx.seeds ?? {};

describe('the gate reads Gardener as gardenlet writes it', () => {
  it('counts shoots whose failed reconcile Gardener is retrying (Processing with lastErrors) and halts', async () => {
    const name = `${prefix}-retry`;
    // no emergency stop: gardenlet keeps retrying the failed shoots after the halt (a stopped seed reconciles nothing)
    await client.create(RESOURCES.canaryRollouts, rollout(name, FAULTY, [canaryWave('aws-eu-1-0'), { name: 'rest', seedNames: [seed('gcp-us-1-2')] }], {}, false));
    const halted = await phase(name, 'Halted');
    expect(halted.status!.message).toMatch(/^wave canary:/);
    // once every failed shoot of the canary is retrying (none left in Error), the gate still counts each of them:
    // the halted rollout keeps counting, so its status shows what it makes of the retries
    const failing = await waitFor('the failed canary shoots retrying', async () => {
      const shoots = await shootsOn('aws-eu-1-0');
      const failed = shoots.filter((sh) => (sh.status?.lastErrors?.length ?? 0) > 0);
      return failed.length > 0 && failed.every(retrying) ? failed : undefined;
    });
    await eventually('the retrying shoots counted unhealthy', async () => {
      expect((await get(name)).status!.waves![0]!.counts!.unhealthy).toBe(failing.length);
    }, 30_000, controller);
  }, 180_000);

  it("does not put shoots that were merely progressing at the wave's start into its baseline", async () => {
    const name = `${prefix}-baseline`;
    // gardenlet turns the health conditions Progressing after every reconcile; the care controller has not looked yet
    for (const sh of await shootsOn('aws-eu-1-1')) {
      await client.patch(RESOURCES.shoots, sh.metadata.name, { metadata: { annotations: { 'gardener.cloud/operation': 'reconcile' } } }, sh.metadata.namespace);
    }
    await waitFor('the canary shoots progressing', async () => {
      const shoots = await shootsOn('aws-eu-1-1');
      return shoots.every((sh) => computeShootStatus(sh) === 'progressing' || !!sh.spec.hibernation?.enabled) ? shoots : undefined;
    });
    await client.create(RESOURCES.canaryRollouts, rollout(name, FAULTY, [canaryWave('aws-eu-1-1'), { name: 'rest', seedNames: [seed('gcp-us-1-2')] }]));
    const halted = await phase(name, 'Halted');
    expect(halted.status!.message).toMatch(/^wave canary:/);
    const counts = halted.status!.waves![0]!.counts!;
    expect(counts.excluded.baselineUnhealthy).toBe(0);
    expect(counts.unhealthy).toBeGreaterThan(0);
  }, 180_000);

  it('passes an empty wave at once, says why, and succeeds', async () => {
    const name = `${prefix}-empty`;
    await client.create(
      RESOURCES.canaryRollouts,
      rollout(name, GOOD, [canaryWave('gcp-us-1-0'), { name: 'nothing', seedSelector: { matchLabels: { 'canary.example.com/none': 'x' } }, bake: '24h' }]),
    );
    const done = await phase(name, 'Succeeded');
    expect(done.status!.waves!.map((w) => [w.name, w.phase, w.seedsTotal])).toEqual([
      ['canary', 'Succeeded', 1],
      ['nothing', 'Succeeded', 0],
    ]);
    expect(done.status!.history!.find((h) => h.event === 'WaveSucceeded' && h.wave === 'nothing')!.message).toMatch(/^empty wave: no seeds to promote/);
  }, 180_000);

  it('halts a wave that goes bad while the rollout is paused, and promotes nothing meanwhile', async () => {
    const name = `${prefix}-paused`;
    const canary = seed('aws-eu-1-2');
    // the operator's own stop holds the canary's shoots until the rollout is paused
    await client.patch(RESOURCES.seeds, canary, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: 'true' } } });
    await client.create(RESOURCES.canaryRollouts, rollout(name, FAULTY, [canaryWave('aws-eu-1-2'), { name: 'rest', seedNames: [seed('gcp-us-1-2')] }]));
    await waitFor('the canary promoted', async () => ((await get(name)).status?.waves?.[0]?.seeds?.[0]?.promotedAt ? true : undefined));
    await operate(name, 'pause');
    await phase(name, 'Paused');
    await client.patch(RESOURCES.seeds, canary, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null } } });
    const halted = await phase(name, 'Halted');
    expect(halted.status!.message).toMatch(/^wave canary:/);
    const events = halted.status!.history!.map((h) => h.event);
    expect(events.indexOf('pause')).toBeLessThan(events.indexOf('Halted'));
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    expect(gardenlets.filter((g) => g.spec.deployment?.helm?.ociRepository.ref === gardenletChartRef(FAULTY)).map((g) => g.metadata.name).sort()).toEqual([seed('aws-eu-1-0'), seed('aws-eu-1-1'), canary].sort());
    await eventually('the canary stopped by the halt', async () => {
      const s = await client.get(RESOURCES.seeds, Seed, canary);
      expect(s.metadata.annotations?.[ANNOTATION_STOPPED_BY]).toBe(name);
    }, 15_000, controller);
  }, 180_000);

  it('tolerates a readiness blip shorter than the grace period', async () => {
    const name = `${prefix}-blip`;
    const canary = seed('gcp-us-1-1');
    await client.create(RESOURCES.canaryRollouts, rollout(name, GOOD, [canaryWave('gcp-us-1-1', '20s')], { seedReadinessGracePeriod: '2m' }));
    await waitFor('the canary baking', async () => ((await get(name)).status?.waves?.[0]?.phase === 'Baking' ? true : undefined));
    // gardenlet's seed care reports a system component unhealthy for a moment (it writes the whole list)
    const setSystemComponents = async (status: 'True' | 'False') => {
      const s = await client.get(RESOURCES.seeds, Seed, canary);
      const conditions = (s.status?.conditions ?? []).map((c) => (c.type === 'SeedSystemComponentsHealthy' ? { ...c, status, lastTransitionTime: new Date().toISOString() } : c));
      await client.patchStatus(RESOURCES.seeds, canary, { status: { conditions } });
    };
    await setSystemComponents('False');
    await waitFor('the controller to see the canary not ready', async () => (seedStates(await get(name))[canary]?.notReadySince ? true : undefined));
    await setSystemComponents('True');
    const done = await phase(name, 'Succeeded');
    expect(done.status!.history!.map((h) => h.event)).not.toContain('Halted');
    expect(seedStates(done)[canary]?.notReadySince).toBeUndefined();
  }, 180_000);
});
