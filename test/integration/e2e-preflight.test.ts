// Pre-flight checks end to end on the real garden API (issue 17): the controller (its own process) keeps a gardenlet
// rollout in Pending, with condition Waiting naming the cause, while its version is outside Gardener's skew policy
// against the version published in gardener-system-public/gardener-info, or while an in-scope Gardenlet carries
// gardener-operator's auto-update label; it plans by itself once the label is gone. Dry runs: nothing is touched.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { GARDENER_INFO, Gardenlet, LABEL_GARDENLET_AUTO_UPDATE } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { deleteRollouts, gardenletRollout, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('f');
const names = { skew: `${prefix}-skew`, label: `${prefix}-label` };
let controller: ControllerProcess | undefined;

const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
const waitingOn = (name: string, reason: string) => async () => {
  const r = await get(name);
  return r.status?.conditions?.some((c) => c.type === 'Waiting' && c.reason === reason) ? r : undefined;
};
const dryRun = (name: string, version: string) => gardenletRollout(name, prefix, version, { waves: [{ name: 'all', percent: 100 }], dryRun: true });

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  await createLandscape(client, smallLandscape(prefix, { shootsPerSeed: 1 }));
  controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`);
}, 180_000);

afterAll(async () => {
  await deleteRollouts(client, Object.values(names)).catch(() => undefined);
  await controller?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('gardenlet pre-flight checks end to end', () => {
  it('waits on a version gardenlet would refuse against the published gardener-apiserver version', async () => {
    const cm = await client.core.readNamespacedConfigMap({ name: GARDENER_INFO.name, namespace: GARDENER_INFO.namespace });
    const published = (yaml.load(cm.data![GARDENER_INFO.key]!) as { version: string }).version;
    const [major, minor] = published.replace(/^v/, '').split('.').map(Number);
    const tooNew = `v${major}.${minor! + 1}.0`;
    await client.create(RESOURCES.canaryRollouts, dryRun(names.skew, tooNew));
    const waiting = await waitFor('Waiting VersionSkew', waitingOn(names.skew, 'VersionSkew'), 60_000, controller);
    expect(waiting.status!.phase).toBe('Pending');
    expect(waiting.status!.plan).toBeUndefined();
    expect(waiting.status!.message).toBe(
      `gardenlet ${tooNew} is newer than gardener-apiserver ${published}: gardenlet refuses to start then (Gardener's version skew policy); upgrade Gardener's control plane first`,
    );
    await deleteRollouts(client, [names.skew]);
  }, 120_000);

  it("waits while an in-scope Gardenlet carries gardener-operator's auto-update label, and plans once it is removed", async () => {
    const labelled = `${prefix}-gcp-us-1-1`;
    await client.patch(RESOURCES.gardenlets, labelled, { metadata: { labels: { [LABEL_GARDENLET_AUTO_UPDATE]: 'true' } } }, 'garden');
    await client.create(RESOURCES.canaryRollouts, dryRun(names.label, 'v1.150.0'));
    const waiting = await waitFor('Waiting GardenletAutoUpdate', waitingOn(names.label, 'GardenletAutoUpdate'), 60_000, controller);
    expect(waiting.status!.phase).toBe('Pending');
    expect(waiting.status!.message).toMatch(new RegExp(`^1 Gardenlets in scope carry ${LABEL_GARDENLET_AUTO_UPDATE.replace(/[./]/g, '\\$&')}=true \\(${labelled}\\)`));

    await client.patch(RESOURCES.gardenlets, labelled, { metadata: { labels: { [LABEL_GARDENLET_AUTO_UPDATE]: null } } }, 'garden');
    const planned = await waitFor('Planned', async () => {
      const r = await get(names.label);
      return r.status?.phase === 'Planned' ? r : undefined;
    }, 60_000, controller);
    expect(planned.status!.conditions!.find((c) => c.type === 'Waiting')).toBeUndefined();
    expect(planned.status!.plan!.seeds).toBe(6);
    expect(planned.status!.history!.filter((h) => h.event === 'Waiting').map((h) => h.reason)).toEqual(['GardenletAutoUpdate']);
    // a dry run touches nothing: every Gardenlet still runs the landscape's chart
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    expect(gardenlets.length).toBeGreaterThan(0);
    expect(gardenlets.filter((g) => g.spec.deployment?.helm?.ociRepository.ref !== gardenletChartRef('v1.149.0')).map((g) => g.metadata.name)).toEqual([]);
  }, 120_000);
});
