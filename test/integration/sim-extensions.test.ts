// The landscape simulator playing gardener-controller-manager's ControllerInstallation controller and gardenlet's
// installation reconciler through the real garden API. The simulator's clock is driven by explicit tick times,
// so delays and spreads pass without sleeping.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_EMERGENCY_STOP, ControllerDeployment, ControllerInstallation, LABEL_SHOOT_STATUS, Shoot } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deploymentHash, LABEL_DEPLOYMENT_HASH } from '../../src/sim/installations.js';
import { createLandscape, deleteExtension, deleteLandscape, ensureExtension, extensionChartRef, LABEL_LANDSCAPE } from '../../src/sim/landscape.js';
import { LiveSimulator } from '../../src/sim/live.js';
import { smallLandscape } from '../../src/sim/scenario.js';
import { createLogger } from '../../src/util/log.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('i');
const log = createLogger({ level: 'error' });
const DELAY = 1000;
const SPREAD = 2000;
const FAULTY = 'v9.9.9';

// unique per test run: Gardener allows one primary registration per kind/type
const ext = `${prefix}-ext`;
const canary = `${ext}-canary`;
const type = `${prefix}-t`;
const canaryLabel = `canary.test/${prefix}`;
const seeds = [`${prefix}-aws-eu-1-0`, `${prefix}-aws-eu-1-1`, `${prefix}-gcp-us-1-0`, `${prefix}-gcp-us-1-1`];
const [notReady, , labelled, stopped] = seeds as [string, string, string, string];

const sim = new LiveSimulator(client, log, {
  prefix,
  upgradeDelayMs: DELAY,
  spreadMs: SPREAD,
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
});

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

const conditions = (i: ControllerInstallation) => Object.fromEntries((i.status?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
const ROLLED_OUT = { Valid: 'True/RegistrationValid', Installed: 'True/InstallationSuccessful', Healthy: 'True/ControllerHealthy', Progressing: 'False/ControllerRolledOut' };

/** A time as the API stores it: metav1.Time keeps seconds. */
const stored = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const reconciledAt = (s: Shoot) => Date.parse(s.status!.lastOperation!.lastUpdateTime!);

const deploymentOf = (name: string) => client.get(RESOURCES.controllerDeployments, ControllerDeployment, name);
const setVersion = (name: string, version: string) => client.patch(RESOURCES.controllerDeployments, name, { helm: { ociRepository: { ref: extensionChartRef(name, version) } } });

const shootsBySeed = async () => {
  const shoots = await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
  return (seed: string) => shoots.filter((s) => s.spec.seedName === seed);
};

describe('landscape simulator: extension installations', () => {
  it('leaves installations alone without the extensions option', async () => {
    await new LiveSimulator(client, log, { prefix }).tick(t);
    expect((await installations()).size).toBe(0);
  });

  it('installs a policy-Always registration on every seed: Progressing at once, rolled out after the delay', async () => {
    const cd = await deploymentOf(ext);
    await sim.tick(t);
    let mine = await installationsOf(ext);
    expect([...mine.keys()].sort()).toEqual(seeds);
    for (const i of mine.values()) {
      expect(i.metadata.name.startsWith(`${ext}-`)).toBe(true);
      expect(i.spec.deploymentRef).toEqual({ name: ext, resourceVersion: cd.metadata.resourceVersion });
      expect(i.metadata.labels).toMatchObject({ [LABEL_DEPLOYMENT_HASH]: deploymentHash(cd), [LABEL_LANDSCAPE]: prefix });
      expect(i.metadata.labels?.['registration-spec-hash']).toMatch(/^[0-9a-f]+$/);
      expect(i.metadata.labels?.['seed-spec-hash']).toMatch(/^[0-9a-f]+$/);
      expect(conditions(i)).toEqual({ Valid: 'True/RegistrationValid', Installed: 'False/InstallationPending', Progressing: 'True/ControllerNotRolledOut' });
    }
    // the unhandled registrations the landscape uses (provider-aws, ...) get nothing
    expect([...(await installations()).keys()]).toEqual([ext]);

    await tickAfter(DELAY / 2);
    mine = await installationsOf(ext);
    expect(mine.size).toBe(4);
    for (const i of mine.values()) expect(conditions(i).Progressing).toBe('True/ControllerNotRolledOut');

    await tickAfter(DELAY / 2);
    for (const i of (await installationsOf(ext)).values()) {
      expect(conditions(i)).toEqual(ROLLED_OUT);
      for (const c of i.status!.conditions!) expect([c.lastTransitionTime, c.lastUpdateTime]).toEqual([stored(t), stored(t)]);
    }
    expect(sim.stats.installationsCreated).toBe(4);
  });

  it('reconciles the shoots of a seed after an installation rolled out there, not while the seed is emergency-stopped', async () => {
    const rolledOutAt = t;
    await tickAfter(SPREAD + 1);
    let on = await shootsBySeed();
    for (const seed of seeds.filter((s) => s !== stopped)) {
      expect(on(seed)).toHaveLength(2);
      for (const s of on(seed)) {
        expect(reconciledAt(s)).toBeGreaterThanOrEqual(Date.parse(stored(rolledOutAt)));
        expect(s.status?.gardener?.version).toBe('v1.149.0'); // the gardenlet version stays
        expect(s.metadata.labels?.[LABEL_SHOOT_STATUS]).toBe('healthy');
      }
    }
    for (const s of on(stopped)) expect(reconciledAt(s)).toBeLessThan(Date.parse(stored(rolledOutAt)));

    await client.patch(RESOURCES.seeds, stopped, { metadata: { annotations: { [ANNOTATION_EMERGENCY_STOP]: null } } });
    await tickAfter(100);
    on = await shootsBySeed();
    for (const s of on(stopped)) expect(s.status!.lastOperation!.lastUpdateTime).toBe(stored(t));
    // reconciled once: nothing is due any more
    const reconciles = sim.stats.reconciles;
    await tickAfter(100);
    expect(sim.stats.reconciles).toBe(reconciles);
  });

  it('follows a ControllerDeployment update: same installations, new revision and hash, rolled out again', async () => {
    const before = await installationsOf(ext);
    await setVersion(ext, 'v1.1.0');
    const cd = await deploymentOf(ext);
    await tickAfter(100);
    const after = await installationsOf(ext);
    expect([...after.values()].map((i) => i.metadata.name).sort()).toEqual([...before.values()].map((i) => i.metadata.name).sort());
    for (const [seed, i] of after) {
      expect(i.spec.deploymentRef).toEqual({ name: ext, resourceVersion: cd.metadata.resourceVersion });
      expect(i.metadata.labels?.[LABEL_DEPLOYMENT_HASH]).toBe(deploymentHash(cd));
      expect(i.metadata.labels?.[LABEL_DEPLOYMENT_HASH]).not.toBe(before.get(seed)!.metadata.labels?.[LABEL_DEPLOYMENT_HASH]);
      expect(conditions(i)).toEqual({ ...ROLLED_OUT, Progressing: 'True/ControllerNotRolledOut' });
    }
    await tickAfter(DELAY);
    for (const i of (await installationsOf(ext)).values()) expect(conditions(i)).toEqual(ROLLED_OUT);
    expect(sim.stats.installationsCreated).toBe(4);
  });

  it('a faulty version: unhealthy installation on a not-ready seed, unhealthy shoots everywhere', async () => {
    await setVersion(ext, FAULTY);
    await tickAfter(100);
    await tickAfter(DELAY);
    const mine = await installationsOf(ext);
    expect(conditions(mine.get(notReady)!)).toEqual({ ...ROLLED_OUT, Healthy: 'False/ControllerNotHealthy' });
    for (const seed of seeds.filter((s) => s !== notReady)) expect(conditions(mine.get(seed)!)).toEqual(ROLLED_OUT);

    const rolledOutAt = t;
    await tickAfter(SPREAD + 1);
    const on = await shootsBySeed();
    for (const seed of seeds) {
      for (const s of on(seed)) {
        expect(reconciledAt(s)).toBeGreaterThanOrEqual(Date.parse(stored(rolledOutAt)));
        expect([s.metadata.name, s.metadata.labels?.[LABEL_SHOOT_STATUS], s.status?.lastOperation?.state]).toEqual([s.metadata.name, 'unhealthy', 'Error']);
        expect(s.status?.gardener?.version).toBe('v1.149.0');
      }
    }
  });

  it('installs a secondary -canary registration only on the seeds its selector matches, and removes it when a seed stops matching', async () => {
    for (const seed of [notReady, labelled]) await client.patch(RESOURCES.seeds, seed, { metadata: { labels: { [canaryLabel]: 'true' } } });
    const { deployment } = await ensureExtension(client, { name: canary, type, primary: false, seedSelector: { matchLabels: { [canaryLabel]: 'true' } }, version: 'v2.0.0' });
    await tickAfter(100);
    let c = await installationsOf(canary);
    expect([...c.keys()].sort()).toEqual([notReady, labelled].sort());
    for (const i of c.values()) expect(i.spec.deploymentRef).toEqual({ name: canary, resourceVersion: deployment.metadata.resourceVersion });

    await client.patch(RESOURCES.seeds, labelled, { metadata: { labels: { [canaryLabel]: null } } });
    await tickAfter(100);
    c = await installationsOf(canary);
    expect([...c.keys()]).toEqual([notReady]);
    expect((await installationsOf(ext)).size).toBe(4);
  });

  it('deletes the installations of a deleted registration', async () => {
    await client.delete(RESOURCES.controllerRegistrations, canary);
    await tickAfter(100);
    expect((await installationsOf(canary)).size).toBe(0);
    expect((await installationsOf(ext)).size).toBe(4);
  });
});
