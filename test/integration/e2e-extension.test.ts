// Extension rollouts end to end on the real garden API: the controller as its own process, the simulator playing
// gardener-controller-manager's installations, gardenlets and shoots. A primary registration takes the reconcile
// gate (Gardener forbids seedSelectors there); a non-primary one takes the seed selector. Success, halt, RevertAll,
// and an operator's emergency stop that is never touched.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRollout, type CanaryRolloutSpecInput } from '../../src/api/v1alpha1.js';
import { ANNOTATION_STOPPED_BY } from '../../src/controller/seed-marks.js';
import { releaseLabel, sameHelm } from '../../src/engine/extension.js';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GRM_ORIGIN, ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, Seed, Shoot } from '../../src/gardener/api.js';
import { operationPatch } from '../../src/cli/kubectl-canary/commands.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteExtension, ensureExtension } from '../../src/sim/extension-fixtures.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { extensionChartRef, seedLabelsFor, seedSpec } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, extensionRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { eventually as eventuallyWith, waitFor as waitUntil } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('x');
const primary = `${prefix}-prim`;
const secondary = `${prefix}-sec`;
const FAULTY = 'v2.0.9';
const seed = (provider: 'aws' | 'gcp', i: number) => `${prefix}-${provider}-${provider === 'aws' ? 'eu' : 'us'}-1-${i}`;
const CANARY = seed('aws', 0);
const landscape = smallLandscape(prefix, { shootsPerSeed: 5 });

let controller: ControllerProcess | undefined;
let sim: LiveSimulator;
const created: string[] = [];

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  await ensureExtension(client, { name: primary, type: primary, primary: true, policy: 'Always', version: 'v2.0.0' });
  await ensureExtension(client, { name: secondary, type: secondary, primary: false, policy: 'Always', version: 'v2.0.0' });
  sim = await liveLandscape(client, landscape, { extensions: { registrations: [primary, secondary] }, faults: { faultyVersion: FAULTY, unhealthyRatio: 0.8 } });
  // installations run v2.0.0 everywhere before any rollout starts
  await waitUntil('installations', async () => ((await installations(primary)).length === 6 && (await installations(secondary)).length === 6 ? true : undefined), 60_000);
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 240_000);

afterAll(async () => {
  await deleteRollouts(client, created).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteExtension(client, primary);
  await deleteExtension(client, secondary);
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number) => waitUntil(what, fn, timeoutMs, controller);
const eventually = (what: string, check: () => Promise<void>) => eventuallyWith(what, check, 15_000, controller);
const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
const seeds = () => client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
const deployment = (name: string) => client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, name);
const registration = (name: string) => client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, name);
async function installations(reg: string): Promise<ControllerInstallation[]> {
  const all = await client.list(RESOURCES.controllerInstallations, ControllerInstallation);
  return all.filter((ci) => ci.spec.registrationRef.name === reg && ci.spec.seedRef?.name.startsWith(`${prefix}-`));
}
const stoppedBy = (list: Seed[]) => Object.fromEntries(list.filter((s) => s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true').map((s) => [s.metadata.name, s.metadata.annotations?.[ANNOTATION_STOPPED_BY] ?? 'operator']));
const helmOf = (version: string, ext: string) => ({ ociRepository: { ref: extensionChartRef(ext, version) }, values: { replicas: 2 } });

async function create(name: string, ext: string, version: string, spec: Omit<Partial<CanaryRolloutSpecInput>, 'target'> = {}, strategy: 'Auto' | 'ReconcileGate' | 'SeedSelector' = 'Auto'): Promise<void> {
  created.push(name);
  const rollout = extensionRollout(
    name,
    prefix,
    ext,
    version,
    {
      waves: [
        { name: 'canary', seedNames: [CANARY], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 }, bake: '15s' }, // long enough to look at the gate
        { name: 'rest', percent: 100, maxConcurrentSeeds: 3 },
      ],
      healthGate: { minSampleSize: 3, maxUnhealthyRatio: 0.2, maxOverallUnhealthyRatio: 0.3 },
      bake: '2s',
      progressDeadline: '5m',
      shootReconciliation: { trigger: true, maxPerMinute: 600 },
      onHalt: { emergencyStop: true, rollback: 'RevertAll' },
      ...spec,
    },
    { values: { replicas: 2 }, strategy },
  );
  await client.create(RESOURCES.canaryRollouts, rollout);
}

const phase = (name: string, want: string) => async () => {
  const r = await get(name);
  return r.status?.phase === want ? r : undefined;
};
const canaryReleased = (name: string) => async () => {
  const r = await get(name);
  return r.status?.waves?.[0]?.seeds?.[0]?.phase === 'Released' ? r : undefined;
};
const abort = (name: string, reason: string) => client.patch(RESOURCES.canaryRollouts, name, operationPatch('abort', reason));

describe('extension rollouts end to end', () => {
  it('primary registration: the reconcile gate holds every other seed, releases wave by wave and leaves an operator\'s stop alone', async () => {
    const name = `${prefix}-gate`;
    const operatorStopped = seed('gcp', 2);
    await client.patch(RESOURCES.seeds, operatorStopped, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: 'true' } } });
    const before = await deployment(primary);
    await create(name, primary, 'v2.1.0');
    // Auto does not take the reconcile gate on its own: the rollout waits, says what the gate would hold, and touches nothing
    const waiting = await waitFor('Waiting', async () => {
      const r = await get(name);
      return r.status?.conditions?.find((c) => c.type === 'Waiting' && c.reason === 'ReconcileGateNotChosen') ? r : undefined;
    }, 30_000);
    expect(waiting.status!.phase).toBe('Pending');
    expect(waiting.status!.message).toMatch(/ReconcileGate would hold every shoot operation .* on each seed until its wave releases it: \d+ seeds with \d+ shoots/);
    expect((await deployment(primary))!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
    expect(Object.keys(stoppedBy(await seeds()))).toEqual([operatorStopped]);
    // the operator accepts it: the one change the strategy allows
    await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { strategy: 'ReconcileGate' } } } });

    // in the canary wave: the new content is live, every seed but the canary is held by us (or the operator)
    const inCanary = await waitFor('canary released', canaryReleased(name), 60_000);
    expect(inCanary.status!.extension).toMatchObject({ strategy: 'ReconcileGate', registrations: [primary], previous: { helm: before!.helm } });
    expect(inCanary.status!.extension!.reason).toBe('requested');
    expect(sameHelm((await deployment(primary))!.helm, helmOf('v2.1.0', primary))).toBe(true);
    // the canary's stop goes with the decision that records it Released (the canary bakes 15 s, time enough to look)
    await eventually('only the canary released', async () => {
      const held = stoppedBy(await seeds());
      expect(held[CANARY]).toBeUndefined();
      expect(held[operatorStopped]).toBe('operator');
      expect(Object.keys(held).sort()).toEqual([seed('aws', 1), seed('aws', 2), seed('gcp', 0), seed('gcp', 1), operatorStopped].sort());
      expect(Object.entries(held).filter(([, by]) => by === name)).toHaveLength(4);
    });
    // a seed that joins the scope now runs the new content at once (Gardener installs it there): held like the rest
    const joined = `${prefix}-aws-eu-1-9`;
    await client.create(RESOURCES.seeds, { metadata: { name: joined, labels: seedLabelsFor(landscape) }, spec: seedSpec({ name: joined, provider: 'aws', region: 'eu-1' }) });
    await eventually('the joining seed held', async () => expect(stoppedBy(await seeds())[joined]).toBe(name));

    const done = await waitFor('Succeeded', phase(name, 'Succeeded'), 150_000);
    expect(done.status!.waves!.map((w) => w.phase)).toEqual(['Succeeded', 'Succeeded']);
    // every stop of ours is gone; the operator's is still there, still theirs
    await eventually('stops lifted', async () => expect(stoppedBy(await seeds())).toEqual({ [operatorStopped]: 'operator' }));
    // every installation runs the new revision, and the released shoots reconciled after their release
    const cd = (await deployment(primary))!;
    expect((await installations(primary)).every((ci) => ci.spec.deploymentRef?.resourceVersion === cd.metadata.resourceVersion)).toBe(true);
    const counts = done.status!.waves![1]!.counts!;
    expect(counts.exposed).toBeGreaterThanOrEqual(3);
    expect(counts.unhealthy).toBe(0);
    await client.patch(RESOURCES.seeds, operatorStopped, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null } } });
    // the joined seed goes again (Gardener deletes its installations first), so later cases plan the six seeds
    await client.delete(RESOURCES.seeds, joined);
    await waitFor('the joined seed gone', async () => ((await client.tryGet(RESOURCES.seeds, Seed, joined)) ? undefined : true), 60_000);
  }, 240_000);

  it('primary registration: a faulty version halts in the canary wave; abort with RevertAll restores the previous content', async () => {
    const name = `${prefix}-gate-bad`;
    const before = (await deployment(primary))!;
    await create(name, primary, FAULTY, {}, 'ReconcileGate');
    const halted = await waitFor('Halted', phase(name, 'Halted'), 120_000);
    expect(halted.status!.message).toMatch(/^wave canary:/);
    // only the canary was released; it carries the halt's stop now, every other seed is still held
    expect(halted.status!.waves![1]!.seeds!.every((s) => s.phase === 'Pending')).toBe(true);
    await eventually('every seed stopped by the rollout', async () => {
      const held = stoppedBy(await seeds());
      expect(Object.keys(held)).toHaveLength(6);
      expect(Object.values(held).every((by) => by === name)).toBe(true);
    });
    const unhealthy = (await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix},shoot.gardener.cloud/status=unhealthy` })).map((s) => s.spec.seedName);
    expect(unhealthy.length).toBeGreaterThan(0);
    expect(new Set(unhealthy)).toEqual(new Set([CANARY])); // nothing beyond the canary ran the faulty version
    // one canary shoot gave up, as gardenlet leaves a shoot whose retries are exhausted: Failed, which a reconcile
    // request does not move (gardener-apiserver bumps a Failed shoot's generation only for retry, strategy.go)
    const canaryShoots = await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    const gaveUp = canaryShoots.find((sh) => sh.spec.seedName === CANARY)!;
    await client.patchStatus(
      RESOURCES.shoots,
      gaveUp.metadata.name,
      { status: { lastOperation: { type: 'Reconcile', state: 'Failed', progress: 100, description: 'e2e: retries exhausted', lastUpdateTime: new Date().toISOString() } } },
      gaveUp.metadata.namespace,
    );
    const failedGeneration = (await client.get(RESOURCES.shoots, Shoot, gaveUp.metadata.name, gaveUp.metadata.namespace)).metadata.generation ?? 0;

    await abort(name, 'e2e: faulty extension');
    const rolledBack = await waitFor('RolledBack', phase(name, 'RolledBack'), 120_000);
    expect(rolledBack.status!.history!.map((h) => h.event)).toEqual(expect.arrayContaining(['Halted', 'abort']));
    const cd = (await deployment(primary))!;
    expect(sameHelm(cd.helm, before.helm)).toBe(true);
    // installations follow the restored revision; the gate is lifted
    await waitFor('installations at the restored revision', async () => ((await installations(primary)).every((ci) => ci.spec.deploymentRef?.resourceVersion === cd.metadata.resourceVersion) ? true : undefined), 30_000);
    await eventually('stops lifted', async () => expect(stoppedBy(await seeds())).toEqual({}));
    // the end is explicit: the waves say how they ended, and once the stops are gone the status says nothing is held
    const ended = await waitFor('Holding=False', async () => {
      const r = await get(name);
      return r.status?.conditions?.some((c) => c.type === 'Holding' && c.status === 'False') ? r : undefined;
    }, 30_000);
    expect(ended.status!.message).toBe('rolled back: the previous version is back on every promoted seed; nothing of this rollout is left in the garden');
    expect(ended.status!.conditions!.find((c) => c.type === 'Holding')!.reason).toBe('HoldsNothing');
    expect(ended.status!.waves!.map((w) => w.phase)).toEqual(['RolledBack', 'Cancelled']);
    // the canary's shoots were reconciled onto the old version again, the Failed one through a retry
    await waitFor('canary shoots healthy again', async () => {
      const list = await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix},shoot.gardener.cloud/status=unhealthy` });
      return list.length === 0 ? true : undefined;
    }, 60_000);
    const retried = await client.get(RESOURCES.shoots, Shoot, gaveUp.metadata.name, gaveUp.metadata.namespace);
    expect(retried.metadata.generation).toBeGreaterThan(failedGeneration);
    expect(retried.status!.lastOperation).toMatchObject({ type: 'Reconcile', state: 'Succeeded' });
  }, 240_000);

  it('non-primary registration: the seed selector carries the new version to released seeds, then hands back to the original registration', async () => {
    const name = `${prefix}-sel`;
    const label = releaseLabel(secondary);
    await create(name, secondary, 'v2.1.0');
    const inCanary = await waitFor('canary released', canaryReleased(name), 90_000);
    expect(inCanary.status!.extension).toMatchObject({ strategy: 'SeedSelector', temporary: { registration: `${secondary}-canary`, deployment: `${secondary}-canary`, seedLabel: label } });
    // the canary runs the temporary registration, every other seed the original one at the old content
    const tmp = await installations(`${secondary}-canary`);
    expect(tmp.map((ci) => ci.spec.seedRef?.name)).toEqual([CANARY]);
    expect((await installations(secondary)).map((ci) => ci.spec.seedRef?.name)).not.toContain(CANARY);
    expect(sameHelm((await deployment(secondary))!.helm, { ociRepository: { ref: extensionChartRef(secondary, 'v2.0.0') } })).toBe(true);
    expect((await registration(secondary))!.spec.deployment!.seedSelector).toEqual({ matchExpressions: [{ key: label, operator: 'DoesNotExist' }] });
    // the release label is durable: it is in the canary's seedConfig too
    const g = (await client.get(RESOURCES.gardenlets, Gardenlet, CANARY, 'garden')).spec.config as { seedConfig: { metadata: { labels: Record<string, string> } } };
    expect(g.seedConfig.metadata.labels[label]).toBe('true');
    expect(stoppedBy(await seeds())).toEqual({}); // no emergency stop on this path

    await waitFor('Succeeded', phase(name, 'Succeeded'), 180_000);
    expect(sameHelm((await deployment(secondary))!.helm, helmOf('v2.1.0', secondary))).toBe(true);
    await eventually('temporary objects, gate and labels gone', async () => {
      expect(await registration(`${secondary}-canary`)).toBeUndefined();
      expect(await deployment(`${secondary}-canary`)).toBeUndefined();
      expect((await registration(secondary))!.spec.deployment!.seedSelector).toBeUndefined();
      expect((await seeds()).filter((s) => s.metadata.labels?.[label])).toEqual([]);
    });
    const cd = (await deployment(secondary))!;
    await waitFor('original installations everywhere at the new revision', async () => {
      const list = await installations(secondary);
      return list.length === 6 && list.every((ci) => ci.spec.deploymentRef?.resourceVersion === cd.metadata.resourceVersion) ? true : undefined;
    }, 30_000);
  }, 300_000);

  it('refuses the seed selector on a primary registration and waits, touching nothing', async () => {
    const name = `${prefix}-sel-prim`;
    const before = (await deployment(primary))!;
    await create(name, primary, 'v2.2.0', {}, 'SeedSelector');
    const waiting = await waitFor('a message', async () => {
      const r = await get(name);
      return r.status?.message?.includes('Gardener forbids a seedSelector') ? r : undefined;
    }, 30_000);
    expect(waiting.status!.phase).toBe('Pending');
    expect((await deployment(primary))!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await registration(`${primary}-canary`)).toBeUndefined();
    expect(stoppedBy(await seeds())).toEqual({});
    await deleteRollouts(client, [name]);
  }, 60_000);

  it('waits while gardener-resource-manager manages the deployment, and goes ahead once the operator says it is ignored', async () => {
    const name = `${prefix}-managed`;
    const origin = `runtime:garden/extension-registration-${primary}`;
    await client.patch(RESOURCES.controllerDeployments, primary, { metadata: { annotations: { [ANNOTATION_GRM_ORIGIN]: origin } } });
    const before = (await deployment(primary))!;
    try {
      await create(name, primary, 'v2.3.0', {}, 'ReconcileGate');
      const waiting = await waitFor('a message', async () => {
        const r = await get(name);
        return r.status?.message?.includes('managed by gardener-resource-manager') ? r : undefined;
      }, 30_000);
      expect(waiting.status!.phase).toBe('Pending');
      expect(waiting.status!.message).toContain(`(ManagedResource ${origin})`);
      expect((await deployment(primary))!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      expect(stoppedBy(await seeds())).toEqual({});

      // the operator has annotated the ManagedResource with resources.gardener.cloud/ignore=true and says so
      await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { managedResourceIgnored: true } } } });
      const started = await waitFor('canary released', canaryReleased(name), 60_000);
      expect(started.status!.extension!.reason).toContain(`managed by ManagedResource ${origin}, ignored on the operator's word`);
      expect(sameHelm((await deployment(primary))!.helm, helmOf('v2.3.0', primary))).toBe(true);

      await abort(name, 'e2e: back to the source');
      await waitFor('RolledBack', phase(name, 'RolledBack'), 120_000);
      const after = (await deployment(primary))!;
      expect(sameHelm(after.helm, before.helm)).toBe(true);
      expect(after.metadata.annotations?.[ANNOTATION_GRM_ORIGIN]).toBe(origin); // only the content was touched
      await eventually('stops lifted', async () => expect(stoppedBy(await seeds())).toEqual({}));
    } finally {
      await client.patch(RESOURCES.controllerDeployments, primary, { metadata: { annotations: { [ANNOTATION_GRM_ORIGIN]: null } } });
    }
  }, 240_000);
});
