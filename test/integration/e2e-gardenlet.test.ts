// End to end on the real garden API: the controller as its own process, the landscape simulator playing the
// gardenlets and shoots. A healthy gardenlet version rolls out in three waves; a faulty one halts by itself in
// the wave where the threshold is crossed, and the halt survives a controller restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import * as z from 'zod';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { operationPatch } from '../../src/cli/kubectl-canary/commands.js';
import { nextSteps } from '../../src/cli/render.js';
import { ANNOTATION_EMERGENCY_STOP, Gardenlet, Seed } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { requestsByVerb, startController, type ControllerProcess } from '../support/controller.js';
import { eventually, NotYet, waitFor as waitUntil } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('e');

let controller: ControllerProcess | undefined;
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix, { managedSeeds: 1, shootsPerSeed: 6, hibernateEvery: 6 }), { faults: { faultyVersion: 'v1.150.9', unhealthyRatio: 0.7 } });
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 180_000);

afterAll(async () => {
  // delete while the controller runs: its finalizer removes marks and emergency stops
  await deleteRollouts(client, [`${prefix}-good`, `${prefix}-bad`, `${prefix}-lease`]).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

function rollout(name: string, version: string, canary = `${prefix}-aws-eu-1-0`, canaryBake = '2s') {
  return gardenletRollout(name, prefix, version, {
    waves: [
      { name: 'canary', seedNames: [canary], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 }, bake: canaryBake },
      { name: 'early', percent: 50, maxConcurrentSeeds: 1 },
      { name: 'rest', percent: 100 },
    ],
    // a seed that stays not ready for 5 s halts (the default grace is 2 minutes)
    healthGate: { minSampleSize: 3, maxUnhealthyRatio: 0.2, maxOverallUnhealthyRatio: 0.3, seedReadinessGracePeriod: '5s' },
    bake: '2s',
    progressDeadline: '5m',
    onHalt: { emergencyStop: true, rollback: 'Freeze' },
  });
}

/** The controller's requests by "verb resource", from its /metrics. */
const requestsOf = async (port: number) => requestsByVerb(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

function requestsDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).filter(([k, v]) => v > (before[k] ?? 0)).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number) => waitUntil(what, fn, timeoutMs, controller);

const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
const seedsOf = () => client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });

describe('gardenlet rollouts end to end', () => {
  it('rolls a healthy version out in three waves', async () => {
    const name = `${prefix}-good`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.150.0'));
    const done = await waitFor('Succeeded', async () => {
      const r = await get(name);
      return r.status?.phase === 'Succeeded' ? r : undefined;
    }, 150_000);
    const seeds = await seedsOf();
    expect(seeds.map((s) => [s.metadata.name, s.status?.gardener?.version])).toEqual(seeds.map((s) => [s.metadata.name, 'v1.150.0']));
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    for (const g of gardenlets) expect(g.spec.deployment?.helm?.ociRepository.ref).toBe(gardenletChartRef('v1.150.0'));
    const recorded = done.status!.history!.map((h) => `${h.event}${h.wave ? `:${h.wave}` : ''}`);
    expect(recorded).toEqual(expect.arrayContaining(['Planned', 'WaveStarted:canary', 'WaveSucceeded:canary', 'WaveStarted:early', 'WaveSucceeded:early', 'WaveStarted:rest', 'WaveSucceeded:rest']));
    expect(done.status!.waves!.map((w) => w.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    // once it succeeded, nothing of the rollout is left on the seeds: its marks go (they were there while it ran)
    await eventually('marks removed', async () => {
      const after = await seedsOf();
      expect(after.filter((s) => s.metadata.annotations?.['canary.gardener.cloud/rollout'] === name || s.metadata.labels?.['canary.gardener.cloud/wave'])).toEqual([]);
    }, 15_000, controller);
    // every decision became a Kubernetes Event on the rollout, with a stable reason
    const core = client.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
    expect(new Set(events.items.map((e) => e.reason))).toEqual(new Set(['RolloutStarted', 'Planned', 'WaveStarted', 'BakeStarted', 'WaveSucceeded', 'Succeeded']));
  }, 180_000);

  it('halts a faulty version in the canary wave, touches no later wave, and stays halted across a restart', async () => {
    const name = `${prefix}-bad`;
    const canary = `${prefix}-aws-eu-1-0`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.150.9'));
    const halted = await waitFor('Halted', async () => {
      const r = await get(name);
      return r.status?.phase === 'Halted' ? r : undefined;
    }, 120_000);
    expect(halted.status!.message).toMatch(/^wave canary:/);
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    const faulty = gardenlets.filter((g) => g.spec.deployment?.helm?.ociRepository.ref === gardenletChartRef('v1.150.9')).map((g) => g.metadata.name);
    expect(faulty).toEqual([canary]);
    await eventually('the canary stopped', async () => {
      const stopped = (await seedsOf()).filter((s) => s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true').map((s) => s.metadata.name);
      expect(stopped).toEqual([canary]);
    }, 15_000, controller);

    // restart the controller: the halt is latched in the status
    await controller!.stop();
    controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
    // while it stands halted: no LIST once the caches are synced, and the freshness probes are GETs, one per API
    // group and round (freshness-prober.ts: a round every 5 s), not a LIST per cache. This shows that something does
    // not happen, so it needs a window: two probe rounds by the controller's own request counters, not a fixed time.
    const probes = ['get canaryrollouts', 'get seeds', 'get gardenlets'];
    const started = controller;
    const before = await requestsOf(started.port());
    const quiet = await waitUntil('two freshness probe rounds', async () => {
      const delta = requestsDelta(before, await requestsOf(started.port()));
      if (probes.some((p) => (delta[p] ?? 0) < 2)) throw new NotYet(JSON.stringify(delta));
      return delta;
    }, 30_000, started);
    expect(Object.keys(quiet).filter((k) => k.startsWith('list '))).toEqual([]);
    // two rounds, and one more at most if the window began in the middle of one
    for (const probe of probes) expect(quiet[probe]).toBeLessThanOrEqual(3);
    const after = await get(name);
    expect(after.status!.phase).toBe('Halted');
    const again = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    expect(again.filter((g) => g.spec.deployment?.helm?.ociRepository.ref === gardenletChartRef('v1.150.9')).map((g) => g.metadata.name)).toEqual([canary]);
    expect(z.array(z.unknown()).parse(after.status!.history).length).toBeGreaterThanOrEqual(halted.status!.history!.length);

    // abort under Freeze: the end is explicit about the halt's stop it keeps and the one command that lets go of it
    await client.patch(RESOURCES.canaryRollouts, name, operationPatch('abort', 'e2e: bad version'));
    const aborted = await waitFor('Aborted', async () => {
      const r = await get(name);
      return r.status?.phase === 'Aborted' ? r : undefined;
    }, 60_000);
    expect(aborted.status!.message).toMatch(new RegExp(`^aborted, versions left as they were; it still holds the emergency stop on 1 seed \\(${canary}\\).*; deleting the rollout lets go of them and changes no version$`));
    expect(aborted.status!.conditions!.find((c) => c.type === 'Holding')).toMatchObject({ status: 'True', reason: 'DeletionReleasesIt' });
    expect(aborted.status!.conditions!.find((c) => c.type === 'Halted')!.status).toBe('False');
    expect(aborted.status!.waves!.map((w) => w.phase)).toEqual(['Aborted', ...aborted.status!.waves!.slice(1).map(() => 'Cancelled')]);
    expect(nextSteps(aborted)).toEqual([`kubectl delete canaryrollout ${name}   let go of what it still holds (changes no version)`]);

    // deleting the rollout removes its marks and the emergency stop it set; versions stay where they are
    await deleteRollouts(client, [name]);
    const seeds = await seedsOf();
    expect(seeds.filter((s) => s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP]).map((s) => s.metadata.name)).toEqual([]);
    expect(seeds.filter((s) => s.metadata.annotations?.['canary.gardener.cloud/rollout'] === name)).toEqual([]);
    expect(seeds.find((s) => s.metadata.name === canary)!.status?.gardener?.version).toBe('v1.150.9');
  }, 180_000);

  it("halts when a promoted canary's gardenlet stops renewing its Lease and Gardener's controller marks the seed Unknown", async () => {
    const name = `${prefix}-lease`;
    const canary = `${prefix}-gcp-us-1-0`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.151.0', canary, '10m'));
    await waitFor('the canary wave baking', async () => {
      const r = await get(name);
      return r.status?.history?.some((h) => h.event === 'BakeStarted' && h.wave === 'canary') ? r : undefined;
    }, 120_000);
    sim.holdLease(canary);
    const held = Date.now();
    const unknown = await waitFor(`${canary} GardenletReady=Unknown`, async () => {
      const s = (await seedsOf()).find((x) => x.metadata.name === canary);
      return s?.status?.conditions?.find((c) => c.type === 'GardenletReady' && c.status === 'Unknown');
    }, 90_000);
    expect(unknown).toMatchObject({ reason: 'StatusUnknown', message: 'Gardenlet stopped posting status updates.' }); // Gardener's words
    const halted = await waitFor('Halted', async () => {
      const r = await get(name);
      return r.status?.phase === 'Halted' ? r : undefined;
    }, 60_000);
    process.stderr.write(`[e2e-gardenlet] lease held -> seed Unknown -> Halted in ${Date.now() - held} ms\n`);
    expect(halted.status!.message).toBe(`seeds stopped being ready or their installations fail: ${canary}`);
    sim.holdLease(canary, false);
  }, 240_000);
});
