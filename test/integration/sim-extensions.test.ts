// The landscape simulator playing gardenlet's side of ControllerInstallations (installation, care and required
// controllers) and its shoot reconciles, against the real garden API, where Gardener's own controllers
// (gardenenv --controllers) create, repoint and delete the installations. What Gardener's controllers do is awaited;
// the simulator's clock is driven by explicit tick times, so delays and spreads pass without sleeping.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, ControllerDeployment, ControllerInstallation, LABEL_SHOOT_STATUS, Seed, Shoot } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { GARDENLET_INSTALLATION_FINALIZER } from '../../src/sim/installations.js';
import { deleteExtension, ensureExtension } from '../../src/sim/extension-fixtures.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { extensionChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { LiveSimulator } from '../../src/sim/live.js';
import { sameConditions } from '../../src/sim/status.js';
import { smallLandscape } from '../../src/sim/scenario.js';
import { createLogger } from '../../src/util/log.js';
import { eventually } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('i');
const log = createLogger({ level: 'error' });
const DELAY = 1000;
const SPREAD = 2000;
const CARE_SYNC = 2000;
const CARE_DELAY = 500;
const RETRY = 5000;
const FAULTY = 'v9.9.9';

// unique per test run: Gardener allows one primary registration per kind/type
const ext = `${prefix}-ext`;
const canary = `${ext}-canary`;
const type = `${prefix}-t`;
const canaryLabel = `canary.test/${prefix}`;
const seeds = [`${prefix}-aws-eu-1-0`, `${prefix}-aws-eu-1-1`, `${prefix}-gcp-us-1-0`, `${prefix}-gcp-us-1-1`];
const [notReady, usesExt, labelled, stopped] = seeds as [string, string, string, string];

const sim = new LiveSimulator(client, log, {
  prefix,
  upgradeDelayMs: DELAY,
  spreadMs: SPREAD,
  careSyncMs: CARE_SYNC,
  careDelayMs: CARE_DELAY,
  retryMs: RETRY,
  extensions: { registrations: [ext] },
  faults: { faultyVersion: FAULTY, unhealthyRatio: 1, notReadySeeds: [notReady] },
});
let t = 0;
/** Advances the simulator's clock by `ms` and runs one tick at the new time. */
const tickAfter = async (ms: number) => {
  t += ms;
  await sim.tick(t);
};

beforeAll(async () => {
  await createLandscape(client, smallLandscape(prefix, { seedsPerRegion: 2, projects: 2, shootsPerSeed: 2 }));
  await ensureExtension(client, { name: ext, type, version: 'v1.0.0' });
  await client.patch(RESOURCES.seeds, stopped, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: 'true' } } });
  t = Date.now() + 1000; // after every status the fixtures wrote
}, 60_000);

afterAll(async () => {
  await deleteExtension(client, ext);
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
}, 90_000);

/** Installations on the landscape's seeds, by registration, then by seed. */
async function installations(): Promise<Map<string, Map<string, ControllerInstallation>>> {
  const all = await client.list(RESOURCES.controllerInstallations, ControllerInstallation);
  const out = new Map<string, Map<string, ControllerInstallation>>();
  for (const i of all) {
    const seed = i.spec.seedRef?.name ?? '';
    if (!seeds.includes(seed)) continue;
    const reg = i.spec.registrationRef.name;
    if (!out.has(reg)) out.set(reg, new Map());
    expect(out.get(reg)!.has(seed)).toBe(false); // exactly one per (registration, seed)
    out.get(reg)!.set(seed, i);
  }
  return out;
}
const installationsOf = async (reg: string) => (await installations()).get(reg) ?? new Map<string, ControllerInstallation>();

/** Waits until gardener-controller-manager has the registration's installations on `on`, at the deployment's revision. */
async function installedBy(reg: string, on: readonly string[]): Promise<Map<string, ControllerInstallation>> {
  const cd = await client.get(RESOURCES.controllerDeployments, ControllerDeployment, reg);
  let found = new Map<string, ControllerInstallation>();
  await eventually(`gardener-controller-manager's installations of ${reg} on ${on.join(',')}`, async () => {
    found = await installationsOf(reg);
    expect([...found.keys()].sort()).toEqual([...on].sort());
    for (const i of found.values()) expect(i.spec.deploymentRef).toEqual({ name: reg, resourceVersion: cd.metadata.resourceVersion });
  }, 30_000);
  return found;
}

const conditions = (i: ControllerInstallation) => Object.fromEntries((i.status?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
const condition = (i: ControllerInstallation, type: string) => i.status?.conditions?.find((c) => c.type === type);
const NOT_REQUIRED = { Required: 'False/NoExtensionObjects' };
const ROLLED_OUT = { Valid: 'True/RegistrationValid', Installed: 'True/InstallationSuccessful', Healthy: 'True/ControllerHealthy', Progressing: 'False/ControllerRolledOut', ...NOT_REQUIRED };

/** A time as the API stores it: metav1.Time keeps seconds. */
const stored = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const reconciledAt = (s: Shoot) => Date.parse(s.status!.lastOperation!.lastUpdateTime!);

const setVersion = (name: string, version: string) => client.patch(RESOURCES.controllerDeployments, name, { helm: { ociRepository: { ref: extensionChartRef(name, version) } } });

const shootsBySeed = async () => {
  const shoots = await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
  return (seed: string) => shoots.filter((s) => s.spec.seedName === seed);
};
const healthConditions = (s: Shoot) => [...new Set((s.status?.conditions ?? []).map((c) => c.status))];

describe('landscape simulator: gardenlet for extension installations', () => {
  it("leaves Gardener's installations alone without the extensions option", async () => {
    await installedBy(ext, seeds);
    await new LiveSimulator(client, log, { prefix }).tick(t);
    for (const i of (await installationsOf(ext)).values()) {
      expect(i.status?.conditions ?? []).toEqual([]);
      expect(i.metadata.finalizers ?? []).not.toContain(GARDENLET_INSTALLATION_FINALIZER);
    }
  });

  it('applies a revision: finalizer, Valid, Installed pending, Required; Progressing and the rolled-out view from the care sync alone', async () => {
    await sim.tick(t);
    let mine = await installationsOf(ext);
    expect(mine.size).toBe(4);
    for (const i of mine.values()) {
      expect(i.metadata.finalizers).toContain(GARDENLET_INSTALLATION_FINALIZER);
      // the installation reconciler writes no Progressing (pkg/gardenlet/controller/controllerinstallation/controllerinstallation)
      expect(conditions(i)).toEqual({ Valid: 'True/RegistrationValid', Installed: 'False/InstallationPending', ...NOT_REQUIRED });
    }
    // a care sync inside the roll-out window
    await tickAfter(DELAY / 2);
    for (const i of (await installationsOf(ext)).values()) expect(conditions(i).Progressing).toBe('True/ControllerNotRolledOut');
    // rolled out, but the care loop has not looked again
    await tickAfter(DELAY / 2);
    for (const i of (await installationsOf(ext)).values()) expect(conditions(i)).toEqual({ Valid: 'True/RegistrationValid', Installed: 'False/InstallationPending', Progressing: 'True/ControllerNotRolledOut', ...NOT_REQUIRED });

    await tickAfter(CARE_SYNC);
    mine = await installationsOf(ext);
    for (const i of mine.values()) {
      expect(conditions(i)).toEqual(ROLLED_OUT);
      expect(condition(i, 'Installed')!.lastTransitionTime).toBe(stored(t));
    }
  });

  let revisionRolledOutAt = 0;
  let beforeRevision = new Map<string, ControllerInstallation['status']>();
  it('a revision rolled out between two care syncs changes no condition: Installed stays True with its old times', async () => {
    beforeRevision = new Map([...(await installationsOf(ext))].map(([seed, i]) => [seed, i.status]));
    await setVersion(ext, 'v1.1.0');
    const repointed = await installedBy(ext, seeds);
    await tickAfter(100);
    await tickAfter(DELAY);
    revisionRolledOutAt = t;
    for (const [seed, i] of await installationsOf(ext)) {
      expect(i.metadata.name).toBe(repointed.get(seed)!.metadata.name);
      expect(conditions(i)).toEqual(ROLLED_OUT);
      // every condition exactly as the care loop wrote it for the old revision: nothing says the new one is in
      expect(sameConditions(i.status?.conditions, beforeRevision.get(seed)?.conditions ?? [])).toBe(true);
    }
  });

  it('reconciles the shoots of a seed after a roll-out, Progressing until the care check; not while the seed is emergency-stopped', async () => {
    const rolledOutAt = revisionRolledOutAt;
    await tickAfter(SPREAD + 1);
    let on = await shootsBySeed();
    for (const seed of seeds.filter((s) => s !== stopped)) {
      expect(on(seed)).toHaveLength(2);
      for (const s of on(seed)) {
        expect(reconciledAt(s)).toBeGreaterThanOrEqual(Date.parse(stored(rolledOutAt)));
        expect(s.status?.gardener?.version).toBe('v1.149.0'); // the gardenlet version stays
        expect([s.status?.lastOperation?.state, healthConditions(s), s.metadata.labels?.[LABEL_SHOOT_STATUS]]).toEqual(['Succeeded', ['Progressing'], 'progressing']);
      }
    }
    for (const s of on(stopped)) expect(reconciledAt(s)).toBeLessThan(Date.parse(stored(rolledOutAt)));

    await tickAfter(CARE_DELAY);
    on = await shootsBySeed();
    for (const seed of seeds.filter((s) => s !== stopped)) {
      for (const s of on(seed)) expect([healthConditions(s), s.metadata.labels?.[LABEL_SHOOT_STATUS]]).toEqual([['True'], 'healthy']);
    }

    await client.patch(RESOURCES.seeds, stopped, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null } } });
    await tickAfter(100);
    on = await shootsBySeed();
    for (const s of on(stopped)) expect(s.status!.lastOperation!.lastUpdateTime).toBe(stored(t));
    // reconciled once: nothing is due any more
    const reconciles = sim.stats.reconciles;
    await tickAfter(100);
    expect(sim.stats.reconciles).toBe(reconciles);
  });

  it("the care loop's later syncs after that revision change nothing either", async () => {
    expect(t - revisionRolledOutAt).toBeGreaterThanOrEqual(CARE_SYNC); // it has looked since
    for (const [seed, i] of await installationsOf(ext)) expect(sameConditions(i.status?.conditions, beforeRevision.get(seed)?.conditions ?? [])).toBe(true);
  });

  it('Required follows the extension objects: True, naming the kind/type, on the seed where a shoot uses the extension', async () => {
    const [shoot] = (await shootsBySeed())(usesExt);
    await client.patch(RESOURCES.shoots, shoot!.metadata.name, { spec: { extensions: [{ type }] } }, shoot!.metadata.namespace);
    await tickAfter(100);
    for (const [seed, i] of await installationsOf(ext)) {
      if (seed === usesExt) expect(condition(i, 'Required')).toMatchObject({ status: 'True', reason: 'ExtensionObjectsExist', message: `extension objects still exist in the seed: [Extension/${type}]` });
      else expect(conditions(i).Required).toBe('False/NoExtensionObjects');
    }
  });

  it("gardenlet's care controller puts back what it sees, once per care period", async () => {
    const one = (await installationsOf(ext)).get(labelled)!;
    const tampered = (one.status?.conditions ?? []).map((c) => (c.type === 'Healthy' ? { ...c, status: 'False', reason: 'Tampered' } : c));
    await client.patchStatus(RESOURCES.controllerInstallations, one.metadata.name, { status: { conditions: tampered } });
    await tickAfter(100); // inside the care period: not looked at
    expect(conditions((await installationsOf(ext)).get(labelled)!).Healthy).toBe('False/Tampered');
    await tickAfter(CARE_SYNC);
    expect(conditions((await installationsOf(ext)).get(labelled)!).Healthy).toBe('True/ControllerHealthy');
  });

  it('a faulty version: unhealthy installation on a not-ready seed; failed shoot reconciles retried, Processing with the previous lastErrors', async () => {
    await setVersion(ext, FAULTY);
    await installedBy(ext, seeds);
    await tickAfter(100);
    await tickAfter(DELAY);
    await tickAfter(CARE_SYNC); // the care loop's next look
    const mine = await installationsOf(ext);
    expect(conditions(mine.get(notReady)!)).toMatchObject({ Healthy: 'False/ControllerNotHealthy', Installed: 'True/InstallationSuccessful', Progressing: 'False/ControllerRolledOut' });
    for (const seed of seeds.filter((s) => s !== notReady)) expect(conditions(mine.get(seed)!).Healthy).toBe('True/ControllerHealthy');

    await tickAfter(SPREAD + 1);
    const failed = (await shootsBySeed())(labelled);
    for (const s of failed) {
      expect([s.status?.lastOperation?.state, s.metadata.labels?.[LABEL_SHOOT_STATUS], s.status?.lastErrors?.length]).toEqual(['Error', 'unhealthy', 1]);
    }
    await tickAfter(RETRY);
    for (const s of (await shootsBySeed())(labelled)) {
      expect(s.status?.lastOperation?.state).toBe('Processing');
      expect(s.status?.lastErrors).toEqual(failed.find((f) => f.metadata.name === s.metadata.name)!.status?.lastErrors);
    }
    await tickAfter(100);
    for (const s of (await shootsBySeed())(labelled)) expect(s.status?.lastOperation?.state).toBe('Error');
  });

  it('a seed with a failing required condition refuses a requested reconcile: Error naming the seed, written once', async () => {
    const seed = await client.get(RESOURCES.seeds, Seed, usesExt);
    const failing = (seed.status?.conditions ?? []).map((c) => (c.type === 'SeedSystemComponentsHealthy' ? { ...c, status: 'False' } : c));
    await client.patchStatus(RESOURCES.seeds, usesExt, { status: { conditions: failing } });
    const [shoot] = (await shootsBySeed())(usesExt);
    await client.patch(RESOURCES.shoots, shoot!.metadata.name, { metadata: { annotations: { [ANNOTATION_GARDENER_OPERATION]: 'reconcile' } } }, shoot!.metadata.namespace);
    await tickAfter(100);
    const refused = (await shootsBySeed())(usesExt).find((s) => s.metadata.name === shoot!.metadata.name)!;
    expect(refused.status?.lastOperation).toMatchObject({
      state: 'Error',
      description: 'Shoot cannot be reconciled on seed: seed has failing conditions: [SeedSystemComponentsHealthy] Operation will be retried.',
    });
    expect(refused.status?.gardener?.version).toBe(seed.status?.gardener?.version);
    expect((refused.metadata.generation ?? 0) > (refused.status?.observedGeneration ?? 0)).toBe(true); // still owed
    await tickAfter(1000);
    const again = (await shootsBySeed())(usesExt).find((s) => s.metadata.name === shoot!.metadata.name)!;
    expect(again.status?.lastOperation?.lastUpdateTime).toBe(refused.status?.lastOperation?.lastUpdateTime);
  });

  it("a secondary registration's installation moves with its seedSelector; gardenlet's finalizer holds a deleted one until it is uninstalled", async () => {
    await client.patch(RESOURCES.seeds, labelled, { metadata: { labels: { [canaryLabel]: 'true' } } });
    await ensureExtension(client, { name: canary, type, primary: false, seedSelector: { matchLabels: { [canaryLabel]: 'true' } }, version: 'v2.0.0' });
    const [inst] = [...(await installedBy(canary, [labelled])).values()];
    await tickAfter(100);
    await client.patch(RESOURCES.seeds, labelled, { metadata: { labels: { [canaryLabel]: null } } });
    let deleting: ControllerInstallation | undefined;
    await eventually('gardener-controller-manager deletes the installation', async () => {
      deleting = (await installationsOf(canary)).get(labelled);
      expect(deleting?.metadata.deletionTimestamp).toBeDefined();
    });
    expect(deleting!.metadata.name).toBe(inst!.metadata.name);
    await tickAfter(100);
    expect(conditions((await installationsOf(canary)).get(labelled)!).Installed).toBe('False/DeletionPending');
    const deleted = sim.stats.installationsDeleted;
    await tickAfter(DELAY / 2);
    expect(sim.stats.installationsDeleted).toBe(deleted + 1);
    await eventually('the installation is gone', async () => expect((await installationsOf(canary)).size).toBe(0));
    expect((await installationsOf(ext)).size).toBe(4);
  });
});
