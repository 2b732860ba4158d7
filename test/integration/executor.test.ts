// The effect executor against the real API: emergency stops it did not set are never removed, reverts restore
// the previous chart, repeated effects write nothing, and shoot reconciles are triggered at the given rate.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Executor } from '../../src/controller/executor.js';
import { ANNOTATION_STOPPED_BY } from '../../src/controller/seed-marks.js';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, ControllerDeployment, ControllerRegistration, Gardenlet, ManagedSeed, Seed, Shoot } from '../../src/gardener/api.js';
import { errorMessage, RESOURCES, statusCode } from '../../src/kube/client.js';
import { deleteExtension } from '../../src/sim/extension-fixtures.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { createLogger } from '../../src/util/log.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('x');
const sel = { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` };
let seeds: Seed[] = [];
let gardenlets: Gardenlet[] = [];
let shoots: Shoot[] = [];
let registrations: ControllerRegistration[] = [];
let deployments: ControllerDeployment[] = [];
let managedSeeds: ManagedSeed[] = [];
const refresh = async () => {
  [seeds, gardenlets, shoots, registrations, deployments, managedSeeds] = await Promise.all([
    client.list(RESOURCES.seeds, Seed, sel),
    client.list(RESOURCES.gardenlets, Gardenlet, { ...sel, namespace: 'garden' }),
    client.list(RESOURCES.shoots, Shoot, sel),
    client.list(RESOURCES.controllerRegistrations, ControllerRegistration),
    client.list(RESOURCES.controllerDeployments, ControllerDeployment),
    client.list(RESOURCES.managedSeeds, ManagedSeed, { ...sel, namespace: 'garden' }),
  ]);
};
const byName = <T extends { metadata: { name: string } }>(list: T[], n: string) => list.find((o) => o.metadata.name === n);
const executor = new Executor(
  client,
  {
    seed: (n) => seeds.find((s) => s.metadata.name === n),
    seeds: () => seeds,
    gardenlet: (n) => gardenlets.find((g) => g.metadata.name === n),
    managedSeed: (n) => byName(managedSeeds, n),
    registration: (n) => byName(registrations, n),
    registrations: () => registrations,
    deployment: (n) => byName(deployments, n),
    freshSeed: (n) => client.tryGet(RESOURCES.seeds, Seed, n),
    freshDeployment: (n) => client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, n),
    freshRegistration: (n) => client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n),
  },
  createLogger({ level: 'error' }),
  () => clock,
);
let clock = Date.parse('2026-12-01T00:00:00Z');
const [A, B] = [`${prefix}-aws-eu-1-0`, `${prefix}-aws-eu-1-1`];
const rollout = { name: `${prefix}-r` };
const ext = `${prefix}-ext`;
/** A finalizer of the test's own, to keep an object being deleted for as long as a case needs. */
const HOLD = 'test.canary.gardener.cloud/hold';
/** gardener-controller-manager's (pkg/controllermanager/controller/controllerregistration/controllerregistrationfinalizer). */
const GARDENER_REGISTRATION_FINALIZER = 'core.gardener.cloud/controllerregistration';
const registrationFinalizers = async (n: string) => (await client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n))?.metadata.finalizers ?? [];

/** Removes finalizer `f` from a registration by index, guarded by a `test` op; a list that changed meanwhile (409/422) is read again. */
async function dropRegistrationFinalizer(name: string, f: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const i = (await registrationFinalizers(name)).indexOf(f);
    if (i < 0) return;
    try {
      await client.jsonPatch(RESOURCES.controllerRegistrations, name, [{ op: 'test', path: `/metadata/finalizers/${i}`, value: f }, { op: 'remove', path: `/metadata/finalizers/${i}` }]);
      return;
    } catch (err) {
      if (![409, 422].includes(statusCode(err) ?? 0) || attempt >= 5) throw err;
    }
  }
}

beforeAll(async () => {
  await createLandscape(client, { prefix, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 2, projects: 1, shootsPerSeed: 6, gardenerVersion: 'v1.149.0' });
  await refresh();
}, 120_000);

afterAll(async () => {
  await deleteExtension(client, ext); // registrations, then their deployments
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

  it('shares a stop between overlapping rollouts: it goes only when the last holder lets go', async () => {
    const other = { name: `${prefix}-other` };
    await executor.apply(rollout, [{ type: 'emergencyStopSeed', seed: B }]);
    await refresh();
    await executor.apply(other, [{ type: 'emergencyStopSeed', seed: B }]);
    await refresh();
    const ann = () => seeds.find((s) => s.metadata.name === B)!.metadata.annotations ?? {};
    expect(ann()).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: [other.name, rollout.name].sort().join(',') });
    await executor.apply(rollout, [{ type: 'clearEmergencyStop', seed: B }]);
    await refresh();
    expect(ann()).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: other.name }); // still held by the other
    expect(await executor.cleanup(other)).toBe(1);
    await refresh();
    expect(ann()[ANNOTATION_EMERGENCY_STOP]).toBeUndefined();
    expect(ann()[ANNOTATION_STOPPED_BY]).toBeUndefined();
  });

  it('keeps a stop an operator joined: a seed the rollout held stays stopped after the rollout lets go', async () => {
    await executor.apply(rollout, [{ type: 'emergencyStopSeed', seed: B }]);
    await refresh();
    const ann = () => seeds.find((s) => s.metadata.name === B)!.metadata.annotations ?? {};
    // the annotation is already true, so the operator adds a name of their own to the holders (README)
    await client.patch(RESOURCES.seeds, B, { metadata: { annotations: { [ANNOTATION_STOPPED_BY]: `${ann()[ANNOTATION_STOPPED_BY]},ops-oncall` } } });
    await refresh();
    await executor.apply(rollout, [{ type: 'clearEmergencyStop', seed: B }]);
    await refresh();
    expect(ann()).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: 'ops-oncall' });
    expect(await executor.cleanup(rollout)).toBe(0); // nothing of ours is left on it
    await client.patch(RESOURCES.seeds, B, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null } } });
    await refresh();
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

  it('requests shoot reconciles at the given rate, counting the requests pending at Gardener (generation bumps)', async () => {
    const on = () => shoots.filter((s) => s.spec.seedName === B);
    const before = new Map(on().map((s) => [s.metadata.name, s.metadata.generation ?? 0]));
    const refs = on().map((s) => ({ namespace: s.metadata.namespace!, name: s.metadata.name, operation: 'reconcile' as const }));
    const requested = () => on().filter((s) => (s.metadata.generation ?? 0) > before.get(s.metadata.name)!);
    // 24 a minute: a burst of 2 (five seconds' worth), then 2 more every 5 s of the executor's clock
    await executor.apply(rollout, [{ type: 'requestShootReconciles', shoots: refs, pending: 0, maxPerMinute: 24 }]);
    await refresh();
    expect(requested()).toHaveLength(2);
    await executor.apply(rollout, [{ type: 'requestShootReconciles', shoots: refs.slice(2), pending: 2, maxPerMinute: 24 }]);
    await refresh();
    expect(requested()).toHaveLength(2); // no token left
    expect(executor.nextReconcileInMs(rollout.name, 24)).toBe(2500);
    clock += 5000;
    await executor.apply(rollout, [{ type: 'requestShootReconciles', shoots: refs.slice(2), pending: 2, maxPerMinute: 24 }]);
    await refresh();
    expect(requested()).toHaveLength(4);
    // the annotation itself does not stay: gardener-apiserver consumed it and bumped the generation
    expect(requested().every((s) => !s.metadata.annotations?.[ANNOTATION_GARDENER_OPERATION])).toBe(true);
    // requests pending at Gardener count against the rate: with as many pending as allowed a minute, none is sent
    clock += 60_000;
    const writes = executor.writes.shootReconcile;
    await executor.apply(rollout, [{ type: 'requestShootReconciles', shoots: refs.slice(4), pending: 24, maxPerMinute: 24 }]);
    expect(executor.writes.shootReconcile).toBe(writes);
  });

  it('changes the emergency-stop holders against the resourceVersion it read: a holder added meanwhile stays', async () => {
    await refresh();
    const ann = () => seeds.find((s) => s.metadata.name === B)!.metadata.annotations ?? {};
    expect(ann()[ANNOTATION_STOPPED_BY]).toBeUndefined();
    await executor.apply(rollout, [{ type: 'emergencyStopSeed', seed: B }]);
    await refresh();
    // an operator joins the holders; the executor's cache does not know yet
    const stale = seeds;
    await client.patch(RESOURCES.seeds, B, { metadata: { annotations: { [ANNOTATION_STOPPED_BY]: `${rollout.name},ops-oncall` } } });
    await executor.apply(rollout, [{ type: 'clearEmergencyStop', seed: B }]); // computed from the stale seed: conflict, re-read
    expect(stale).toBe(seeds);
    await refresh();
    expect(ann()).toMatchObject({ [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: 'ops-oncall' });
    await client.patch(RESOURCES.seeds, B, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null } } });
    await refresh();
  });

  it('replaces a ControllerDeployment\'s helm content exactly, once', async () => {
    await client.create(RESOURCES.controllerDeployments, { metadata: { name: ext }, helm: { ociRepository: { ref: 'registry.example.com/ext:v1.0.0' }, values: { a: 1, keep: { x: 1 } } } });
    await refresh();
    const helm = { ociRepository: { repository: 'registry.example.com/ext', tag: 'v1.1.0' }, values: { b: 2 } };
    await executor.apply(rollout, [{ type: 'updateControllerDeployment', name: ext, helm }]);
    await refresh();
    expect(byName(deployments, ext)!.helm).toEqual(helm); // no old values merged in, ref gone
    const writes = executor.writes.controllerDeployment;
    await executor.apply(rollout, [{ type: 'updateControllerDeployment', name: ext, helm }]);
    expect(executor.writes.controllerDeployment).toBe(writes);
    // someone else changes the content; the executor's cache does not know yet. A revert (only over our content)
    // computed from the stale cache fails its compare-and-swap, re-reads, and leaves the other edit alone
    const theirs = { ociRepository: { ref: 'registry.example.com/ext:v9.9.9' } };
    await client.jsonPatch(RESOURCES.controllerDeployments, ext, [{ op: 'add', path: '/helm', value: theirs }]);
    const previous = { ociRepository: { ref: 'registry.example.com/ext:v1.0.0' }, values: { a: 1, keep: { x: 1 } } };
    await executor.apply(rollout, [{ type: 'updateControllerDeployment', name: ext, helm: previous, replaces: helm }]);
    expect((await client.get(RESOURCES.controllerDeployments, ControllerDeployment, ext)).helm).toEqual(theirs);
    // over our own content, the revert goes through, also from the stale cache
    await client.jsonPatch(RESOURCES.controllerDeployments, ext, [{ op: 'add', path: '/helm', value: helm }]);
    await executor.apply(rollout, [{ type: 'updateControllerDeployment', name: ext, helm: previous, replaces: helm }]);
    expect((await client.get(RESOURCES.controllerDeployments, ControllerDeployment, ext)).helm).toEqual(previous);
  });

  it('SeedSelector: temporary registration, gated original, durable seed labels, and clean removal', async () => {
    const type = `${prefix}-svc`;
    await client.create(RESOURCES.controllerRegistrations, {
      metadata: { name: ext },
      spec: { resources: [{ kind: 'Extension', type, primary: false }], deployment: { policy: 'Always', deploymentRefs: [{ name: ext }] } },
    });
    await refresh();
    const label = `release.canary.gardener.cloud/${ext}`;
    const helm = { ociRepository: { ref: 'registry.example.com/ext:v1.2.0' } };
    await executor.apply(rollout, [
      { type: 'createCanaryRegistration', registration: `${ext}-canary`, deployment: `${ext}-canary`, from: ext, helm, seedLabel: label },
      { type: 'gateRegistration', registration: ext, seedLabel: label, on: true },
      { type: 'labelSeed', seed: A, key: label, value: 'true' },
    ]);
    await refresh();
    const tmp = byName(registrations, `${ext}-canary`)!;
    expect(tmp.spec.resources).toEqual([expect.objectContaining({ kind: 'Extension', type, primary: false })]);
    expect(tmp.spec.deployment).toMatchObject({ policy: 'Always', deploymentRefs: [{ name: `${ext}-canary` }], seedSelector: { matchLabels: { [label]: 'true' } } });
    expect(byName(deployments, `${ext}-canary`)!.helm).toEqual(helm);
    expect(byName(registrations, ext)!.spec.deployment!.seedSelector).toEqual({ matchExpressions: [{ key: label, operator: 'DoesNotExist' }] });
    expect(byName(seeds, A)!.metadata.labels?.[label]).toBe('true');
    const config = byName(gardenlets, A)!.spec.config as { seedConfig: { metadata: { labels: Record<string, string> }; spec: unknown } };
    expect(config.seedConfig.metadata.labels[label]).toBe('true'); // durable: gardenlet resets Seed labels to this
    expect(config.seedConfig.spec).toBeDefined(); // the rest of the config is untouched
    // everything again: nothing to write
    const before = { ...executor.writes };
    await executor.apply(rollout, [
      { type: 'createCanaryRegistration', registration: `${ext}-canary`, deployment: `${ext}-canary`, from: ext, helm, seedLabel: label },
      { type: 'gateRegistration', registration: ext, seedLabel: label, on: true },
      { type: 'labelSeed', seed: A, key: label, value: 'true' },
    ]);
    expect(executor.writes).toEqual(before);
    expect(byName(registrations, `${ext}-canary`)!.metadata.labels?.['canary.gardener.cloud/rollout']).toBe(rollout.name);
    // a finished rollout of the same extension keeps asserting its clean-up: it takes nothing of this one's
    const other = { name: `${prefix}-finished` };
    await executor.apply(other, [
      { type: 'deleteCanaryRegistration', registration: `${ext}-canary`, deployment: `${ext}-canary` },
      { type: 'gateRegistration', registration: ext, seedLabel: label, on: false },
    ]);
    expect(executor.writes).toEqual(before);
    await expect(executor.apply(other, [{ type: 'createCanaryRegistration', registration: `${ext}-canary`, deployment: `${ext}-canary`, from: ext, helm, seedLabel: label }])).rejects.toThrow(
      `${ext}-canary belongs to rollout ${rollout.name}`,
    );
    // and undo it, with the temporary registration held by a finalizer of ours as gardener-controller-manager's holds
    // it while installations are left: the deployment must outlive it
    const tmpName = `${ext}-canary`;
    await waitFor('Gardener\'s finalizer on the temporary registration', async () => ((await registrationFinalizers(tmpName)).includes(GARDENER_REGISTRATION_FINALIZER) || undefined), 30_000);
    await client.jsonPatch(RESOURCES.controllerRegistrations, tmpName, [{ op: 'add', path: '/metadata/finalizers/-', value: HOLD }]);
    await refresh();
    const undo = [
      { type: 'labelSeed', seed: A, key: label, value: null },
      { type: 'deleteCanaryRegistration', registration: tmpName, deployment: tmpName },
      { type: 'gateRegistration', registration: ext, seedLabel: label, on: false },
    ] as const;
    await executor.apply(rollout, undo);
    await refresh();
    expect(byName(registrations, tmpName)?.metadata.deletionTimestamp).toBeDefined();
    const cd = byName(deployments, tmpName);
    expect(cd ? (cd.metadata.deletionTimestamp ?? 'kept') : 'gone').toBe('kept'); // not deleted while a registration names it
    // being deleted, the registration is not deleted again, nor its deployment while it is there
    const deletes = { ...executor.writes };
    await executor.apply(rollout, undo);
    expect(executor.writes).toEqual(deletes);
    // so the finalizers can go: gardener-apiserver admits an update of a registration only while its deployment exists
    await dropRegistrationFinalizer(tmpName, HOLD);
    await waitFor('the temporary registration gone', async () => ((await client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, tmpName)) ? undefined : true), 30_000);
    await refresh();
    await executor.apply(rollout, undo);
    await refresh();
    expect(byName(deployments, tmpName)?.metadata.deletionTimestamp ?? 'gone').not.toBeUndefined(); // gone, or going under Gardener's finalizer
    expect(byName(registrations, ext)!.spec.deployment!.seedSelector).toBeUndefined();
    expect(byName(seeds, A)!.metadata.labels?.[label]).toBeUndefined();
    expect((byName(gardenlets, A)!.spec.config as { seedConfig: { metadata: { labels: Record<string, string> } } }).seedConfig.metadata.labels[label]).toBeUndefined();
  });

  it('gardener-apiserver refuses a seedSelector on a primary registration (why ReconcileGate exists)', async () => {
    const err = await client
      .create(RESOURCES.controllerRegistrations, {
        metadata: { name: `${prefix}-prim` },
        spec: { resources: [{ kind: 'Extension', type: `${prefix}-prim` }], deployment: { seedSelector: { matchLabels: { a: 'b' } } } },
      })
      .catch((e: unknown) => e);
    expect(errorMessage(err)).toMatch(/seed selector is not allowed when controlling resources primarily/);
  });
});
