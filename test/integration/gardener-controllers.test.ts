// Gardener's own gardener-controller-manager controllers, run in-process by gardenenv (--controllers), against a
// landscape of the fixtures, in a garden of this test's own (the shared garden runs them too, with Gardener's
// default periods; this one shortens the seed monitor period).
// - controllerregistration (pkg/controllermanager/controller/controllerregistration): a registration with
//   `policy: Always` gets exactly one ControllerInstallation per seed, with no simulated gardenlet installing.
// - controllerdeployment (pkg/controllermanager/controller/controllerdeployment/controllerdeployment): a deleted
//   ControllerDeployment stays while a registration names it, so that registration can still be updated and go.
// - seedlifecycle (pkg/controllermanager/controller/gardenletlifecycle): a seed whose (simulated) gardenlet stops
//   renewing its Lease in gardener-system-seed-lease turns GardenletReady=Unknown; seeds whose Lease is renewed stay.
// - with the simulator playing only gardenlet's side of installations: a seedSelector change moves them, and a new
//   ControllerDeployment revision is repointed by Gardener and rolled out by the simulated gardenlet.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as z from 'zod';
import { ControllerDeployment, ControllerInstallation, ControllerRegistration, Seed } from '../../src/gardener/api.js';
import { KubeClient, loadKubeConfig, RESOURCES } from '../../src/kube/client.js';
import { ensureExtension } from '../../src/sim/extension-fixtures.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { planLandscape } from '../../src/sim/landscape-plan.js';
import { LiveSimulator } from '../../src/sim/live.js';
import { smallLandscape } from '../../src/sim/scenario.js';
import { createLogger } from '../../src/util/log.js';
import { startGarden } from '../garden/garden.mjs';
import { waitFor } from '../support/eventually.js';
import { uniquePrefix } from '../support/garden.js';

const MONITOR_PERIOD_S = 4;
/** Gardener's finalizer on ControllerDeployments (pkg/controllermanager/controller/controllerdeployment/controllerdeployment). */
const DEPLOYMENT_FINALIZER = 'core.gardener.cloud/controllerdeployment';
const spec = smallLandscape(uniquePrefix('g'), { providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 3, projects: 1, shootsPerSeed: 1 });
const seedNames = planLandscape(spec).seeds.map((s) => s.name);
const staleSeed = seedNames[0]!;

let garden: Awaited<ReturnType<typeof startGarden>> | undefined;
let client: KubeClient;
let sim: LiveSimulator | undefined;

function gardenletReady(seed: Seed) {
  return seed.status?.conditions?.find((c) => c.type === 'GardenletReady');
}

beforeAll(async () => {
  garden = await startGarden({ controllers: 'all', seedMonitorPeriod: `${MONITOR_PERIOD_S}s`, seedSyncPeriod: '1s', log: () => {} });
  client = new KubeClient(loadKubeConfig(garden.kubeconfig));
  // gardenlet's heartbeat from the start (before the seeds exist), but not for staleSeed; no installation playing
  sim = new LiveSimulator(client, createLogger({ level: 'error' }), { prefix: spec.prefix, tickMs: 200, gardenletLeases: { leaseResyncMs: 1000, staleLeaseSeeds: [staleSeed] } });
  sim.start();
  await createLandscape(client, spec);
}, 300_000);

afterAll(async () => {
  await sim?.stop();
  await garden?.stop();
}, 120_000);

describe("Gardener's controllers in the test garden", () => {
  it('a registration with policy Always gets one ControllerInstallation per seed (by gardener-controller-manager, not the simulator)', async () => {
    const name = `${spec.prefix}-always`;
    await ensureExtension(client, { name, type: name, policy: 'Always', version: 'v1.0.0' });
    const started = Date.now();
    const installations = await waitFor(
      'one installation per seed',
      async () => {
        const all = (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter((i) => i.spec.registrationRef.name === name);
        const seeds = all.map((i) => i.spec.seedRef?.name).sort();
        return seeds.length === seedNames.length && JSON.stringify(seeds) === JSON.stringify([...seedNames].sort()) ? all : undefined;
      },
      60_000,
    );
    process.stderr.write(`[gardener-controllers] ${installations.length} installations for ${seedNames.length} seeds after ${Date.now() - started} ms\n`);
    for (const i of installations) expect(i.spec.deploymentRef?.name).toBe(name);
    // and no more than one per seed a while later: that something does not happen needs a window, a bounded wait
    await new Promise((r) => setTimeout(r, 2000));
    const again = (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter((i) => i.spec.registrationRef.name === name);
    expect(again.map((i) => i.metadata.name).sort()).toEqual(installations.map((i) => i.metadata.name).sort());
  });

  it("a seed whose gardenlet stops renewing its Lease turns GardenletReady=Unknown by Gardener's controller; the others stay True", async () => {
    const stale = await waitFor(
      `${staleSeed} GardenletReady=Unknown`,
      async () => {
        const s = await client.get(RESOURCES.seeds, Seed, staleSeed);
        return gardenletReady(s)?.status === 'Unknown' ? s : undefined;
      },
      60_000,
    );
    expect(gardenletReady(stale)).toMatchObject({ status: 'Unknown', reason: 'StatusUnknown', message: 'Gardenlet stopped posting status updates.' });
    // written by gardener-controller-manager (gardenenv's manager), not by the simulator
    const raw = await client.get(RESOURCES.seeds, z.looseObject({ metadata: z.looseObject({ managedFields: z.array(z.looseObject({ manager: z.string(), subresource: z.string().optional() })).optional() }) }), staleSeed);
    expect(raw.metadata.managedFields?.some((f) => f.manager === 'gardener-controller-manager' && f.subresource === 'status')).toBe(true);
    // the seeds whose Lease is renewed stay ready for longer than the monitor period: that something does not happen
    // needs a window, a bounded wait; in it the simulator renewed their Leases (every second, so twice each at least)
    const renewed = seedNames.filter((n) => n !== staleSeed);
    const renewalsBefore = sim!.stats.leaseRenewals;
    await new Promise((r) => setTimeout(r, (MONITOR_PERIOD_S + 2) * 1000));
    for (const name of renewed) {
      expect(gardenletReady(await client.get(RESOURCES.seeds, Seed, name))?.status).toBe('True');
    }
    expect(sim!.stats.leaseRenewals - renewalsBefore).toBeGreaterThanOrEqual(2 * renewed.length);
  });

  it("a seedSelector change moves installations the way Gardener does; the simulator's gardenlet installs what Gardener's controller wants", async () => {
    // from here the simulator plays gardenlet's side of installations too
    await sim!.stop();
    sim = new LiveSimulator(client, createLogger({ level: 'error' }), {
      prefix: spec.prefix,
      tickMs: 200,
      upgradeDelayMs: 500,
      gardenletLeases: { leaseResyncMs: 1000 },
      extensions: { registrations: [`${spec.prefix}-sel`] },
    });
    sim.start();
    // its heartbeat back, the stale seed's gardenlet sets GardenletReady=True again (maintainGardenletReadyCondition)
    await waitFor(`${staleSeed} GardenletReady=True again`, async () => (gardenletReady(await client.get(RESOURCES.seeds, Seed, staleSeed))?.status === 'True' ? true : undefined), 30_000);
    const name = `${spec.prefix}-sel`;
    const label = `${spec.prefix}.canary.gardener.cloud/ext`;
    const [, first, second] = seedNames;
    await client.patch(RESOURCES.seeds, first!, { metadata: { labels: { [label]: 'on' } } });
    // secondary registrations are the ones that may carry a seedSelector (ControllerRegistration validation)
    await ensureExtension(client, { name, type: name, primary: false, policy: 'Always', seedSelector: { matchLabels: { [label]: 'on' } }, version: 'v1.0.0' });
    const ofRegistration = async () => (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter((i) => i.spec.registrationRef.name === name);
    const installedOn = (seed: string) => async () => {
      const all = await ofRegistration();
      const only = all.length === 1 && all[0]!.spec.seedRef?.name === seed ? all[0]! : undefined;
      return only?.status?.conditions?.some((c) => c.type === 'Installed' && c.status === 'True') ? only : undefined;
    };
    const onFirst = await waitFor(`one installed installation on ${first}`, installedOn(first!), 60_000);

    const moved = Date.now();
    await client.patch(RESOURCES.seeds, first!, { metadata: { labels: { [label]: null } } });
    await client.patch(RESOURCES.seeds, second!, { metadata: { labels: { [label]: 'on' } } });
    const onSecond = await waitFor(`the installation moved to ${second}`, installedOn(second!), 60_000);
    process.stderr.write(`[gardener-controllers] seedSelector change: installation moved from ${first} to ${second} (installed) in ${Date.now() - moved} ms\n`);
    expect(onSecond.metadata.name).not.toBe(onFirst.metadata.name);

    // a new deployment revision: Gardener repoints the installation, the simulated gardenlet rolls it out
    const rv = onSecond.spec.deploymentRef?.resourceVersion;
    const rolledOut = sim!.stats.installationsRolledOut; // first's and second's
    await ensureExtension(client, { name, type: name, primary: false, policy: 'Always', seedSelector: { matchLabels: { [label]: 'on' } }, version: 'v1.1.0' });
    const repointed = await waitFor(
      'the installation repointed and rolled out',
      async () => {
        const i = await installedOn(second!)();
        const progressing = i?.status?.conditions?.find((c) => c.type === 'Progressing');
        // Progressing=False alone could still be the previous revision's, before the simulator saw the new one
        return i && i.spec.deploymentRef?.resourceVersion !== rv && progressing?.status === 'False' && sim!.stats.installationsRolledOut > rolledOut ? i : undefined;
      },
      60_000,
    );
    expect(repointed.metadata.name).toBe(onSecond.metadata.name);
    expect(rolledOut).toBe(2);
  });

  it('a ControllerDeployment being deleted stays while a registration names it (controllerdeployment finalizer): the registration can still be updated and go', async () => {
    const name = `${spec.prefix}-cd`;
    const deployment = () => client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, name);
    await ensureExtension(client, { name, type: name, primary: false, policy: 'OnDemand', version: 'v1.0.0' });
    await waitFor("Gardener's finalizer on the deployment", async () => ((await deployment())?.metadata.finalizers?.includes(DEPLOYMENT_FINALIZER) ? true : undefined), 30_000);
    await client.delete(RESOURCES.controllerDeployments, name);
    expect((await deployment())?.metadata.deletionTimestamp).toBeDefined();
    // gardener-apiserver admits an update of a registration only while the deployments it names exist
    // (plugin/pkg/global/resourcereferencemanager); the one that removes Gardener's finalizer from it is one of them
    await client.patch(RESOURCES.controllerRegistrations, name, { metadata: { labels: { [`${spec.prefix}.canary.gardener.cloud/touched`]: 'true' } } });
    await client.delete(RESOURCES.controllerRegistrations, name);
    await waitFor(
      'the registration gone, then its deployment',
      async () => (!(await client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, name)) && !(await deployment()) ? true : undefined),
      60_000,
    );
  });
});
