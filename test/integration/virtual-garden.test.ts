// The gardener-operator topology against the real garden API, the test garden playing the virtual garden:
// - deploy/virtual-garden/garden applies (server-side dry run, then for real what the controller's identity needs) and
//   deploy/virtual-garden/runtime passes a server-side dry run (namespace garden);
// - the controller runs from outside with a kubeconfig whose user has `tokenFile` (as Gardener's generic token
//   kubeconfig), the token rotates under it (a new TokenRequest written into the file, the old token revoked), and it
//   goes on without a restart: the rollout in flight finishes, a new one is picked up and planned, the leader keeps
//   its lease, and the revoked token cost a 401 and a re-read of the file, not the wait for the periodic re-read.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { RESOURCES, statusCode } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { leaseName, startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';
import { kustomizeBuild, type Manifest } from '../support/kustomize.js';

const NAMESPACE = 'gardener-canary-rollout';
const SERVICE_ACCOUNT = 'canary-rollout-controller';
const FIELD_MANAGER = 'canary-virtual-garden-test';
const client = gardenClient();
const objects = k8s.KubernetesObjectApi.makeApiClient(client.kubeConfig);
const coordination = client.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
const garden = kustomizeBuild('deploy/virtual-garden/garden');
const runtime = kustomizeBuild('deploy/virtual-garden/runtime');
const prefix = uniquePrefix('v');
const selector = `${LABEL_LANDSCAPE}=${prefix}`;
const dir = mkdtempSync(join(tmpdir(), 'canary-virtual-garden-'));
const rollouts = [`${prefix}-a`, `${prefix}-b`];
const bindings = [`${prefix}-token-1`, `${prefix}-token-2`];
let controller: ControllerProcess | undefined;
let sim: LiveSimulator | undefined;

async function apply(m: Manifest, dryRun: boolean): Promise<void> {
  const opts = { dryRun: dryRun ? 'All' : undefined };
  if (m.kind === 'CustomResourceDefinition') {
    // the untyped client: client-node's models drop the CRD's CEL rules
    await client.objects.patchClusterCustomObject(
      { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', name: m.metadata.name, body: m, fieldManager: FIELD_MANAGER, force: true, ...opts },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
    return;
  }
  await objects.patch(m as k8s.KubernetesObject, undefined, opts.dryRun, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
}

async function ensureNamespace(name: string): Promise<void> {
  try {
    await client.core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

/**
 * A token of the ServiceAccount bound to a Secret of its own: deleting the Secret revokes the token (kube-apiserver
 * checks a bound object's existence and UID on every authentication: kubernetes pkg/serviceaccount/claims.go).
 */
async function boundToken(binding: string): Promise<string> {
  const secret = await client.core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: binding } } });
  const tr = await client.core.createNamespacedServiceAccountToken({
    name: SERVICE_ACCOUNT,
    namespace: NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: binding, uid: secret.metadata!.uid } } },
  });
  return tr.status!.token;
}

/** Whether the API server takes `token` (a SelfSubjectReview needs no permission). */
async function accepted(token: string): Promise<boolean> {
  const cluster = client.kubeConfig.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({ clusters: [cluster], users: [{ name: 'probe', token }], contexts: [{ name: 'probe', cluster: cluster.name, user: 'probe' }], currentContext: 'probe' });
  try {
    await kc.makeApiClient(k8s.AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    return true;
  } catch (err) {
    if (statusCode(err) === 401) return false;
    throw err;
  }
}

/** As kubelet updates a mounted Secret: the new content appears at once, never half written. */
function writeToken(path: string, token: string): void {
  writeFileSync(`${path}.new`, token);
  renameSync(`${path}.new`, path);
}

async function phase(name: string): Promise<string | undefined> {
  return (await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, name))?.status?.phase;
}

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  await ensureNamespace('garden');
}, 60_000);

afterAll(async () => {
  await deleteRollouts(client, rollouts).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  for (const b of bindings) await client.core.deleteNamespacedSecret({ name: b, namespace: NAMESPACE }).catch(() => undefined);
  await coordination.deleteNamespacedLease({ name: leaseName(selector), namespace: NAMESPACE }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  client.kubeConfig.close();
}, 60_000);

describe('the virtual garden topology', () => {
  it('deploy/virtual-garden/garden applies to the (virtual) garden; deploy/virtual-garden/runtime passes a server-side dry run', async () => {
    const ns = garden.find((m) => m.kind === 'Namespace')!;
    await apply(ns, true);
    await apply(ns, false); // namespaced objects can only be dry-run into an existing namespace
    for (const m of garden) await apply(m, true);
    // for real: what the controller's identity needs below (the CRD is installed; the admission policy is not needed)
    for (const m of garden.filter((m) => m.kind === 'ServiceAccount' || m.apiVersion.startsWith('rbac.authorization.k8s.io/'))) await apply(m, false);
    // the runtime cluster's part, into its namespace garden (the test garden is a kube-apiserver like any other)
    for (const m of runtime) await apply(m, true);
    expect(new Set(runtime.map((m) => m.metadata.namespace))).toEqual(new Set(['garden']));
  }, 60_000);

  it('runs from outside with a token-file kubeconfig and keeps working through a token rotation that revokes the old token, without a restart', async () => {
    // Gardener's generic token kubeconfig: the user names a token file (client-go's `tokenFile`; relative to the kubeconfig here)
    const tokenPath = join(dir, 'token');
    const first = await boundToken(bindings[0]!);
    writeToken(tokenPath, first);
    const cluster = client.kubeConfig.getCurrentCluster()!;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      yaml.dump({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'virtual-garden', cluster: { server: cluster.server, ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}), ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}) } }],
        users: [{ name: SERVICE_ACCOUNT, user: { tokenFile: 'token' } }],
        contexts: [{ name: 'virtual-garden', context: { cluster: 'virtual-garden', user: SERVICE_ACCOUNT } }],
        'current-context': 'virtual-garden',
      }),
      { mode: 0o600 },
    );

    sim = await liveLandscape(client, smallLandscape(prefix, { seedsPerRegion: 1, shootsPerSeed: 3 }));
    controller = await startController(selector, ['--install-crd=false', '--lease-namespace', NAMESPACE], true, { kubeconfig });
    const pid = controller.child.pid;
    const lease = async () => (await coordination.readNamespacedLease({ name: leaseName(selector), namespace: NAMESPACE })).spec!;
    const holder = (await lease()).holderIdentity;
    expect(holder).toBe(process.env.POD_NAME ?? `${hostname()}-${pid}`); // the controller's identity (config.ts, manager.ts)

    // a rollout whose first bake spans the rotation
    const [a, b] = rollouts as [string, string];
    const waves = (bake: string) => ({
      waves: [{ name: 'canary', count: 1, healthGate: { minSampleSize: 2 }, bake }, { name: 'rest', percent: 100 }],
      healthGate: { minSampleSize: 2 },
      bake: '1s',
      shootReconciliation: { trigger: true, maxPerMinute: 600 },
    });
    await client.create(RESOURCES.canaryRollouts, gardenletRollout(a, prefix, 'v1.150.0', waves('5s')));
    await waitFor('rollout a Progressing', async () => ((await phase(a)) === 'Progressing' ? true : undefined), 60_000, controller);

    // the rotation, in the order Gardener's TokenRequestor and kubelet produce it: the new token in the file, then the old one revoked
    const second = await boundToken(bindings[1]!);
    writeToken(tokenPath, second);
    await client.core.deleteNamespacedSecret({ name: bindings[0]!, namespace: NAMESPACE });
    // kube-apiserver caches a successful authentication for 10 s (kubernetes pkg/kubeapiserver/options/authentication.go)
    await waitFor('the old token to be rejected', async () => ((await accepted(first)) ? undefined : true), 30_000);
    expect(await accepted(second)).toBe(true);
    const renewedBefore = String((await lease()).renewTime);

    // it goes on: a new rollout is picked up (its watch) and planned (a plan needs caches confirmed fresh), and the
    // rollout in flight finishes (a bake ends only on data confirmed after its end)
    await client.create(RESOURCES.canaryRollouts, gardenletRollout(b, prefix, 'v1.150.1', { ...waves('1s'), dryRun: true }));
    await waitFor('rollout b Planned', async () => ((await phase(b)) === 'Planned' ? true : undefined), 60_000, controller);
    await waitFor('rollout a Succeeded', async () => ((await phase(a)) === 'Succeeded' ? true : undefined), 90_000, controller);
    // the leader renewed its lease with the new token, and never stopped leading
    await waitFor('a lease renewal after the rotation', async () => (String((await lease()).renewTime) !== renewedBefore ? true : undefined), 15_000, controller);
    expect((await lease()).holderIdentity).toBe(holder);
    expect(controller.logs.filter((l) => l.includes('"msg":"stopped leading"'))).toEqual([]);
    // the same process all along
    expect(controller.child.pid).toBe(pid);
    expect(controller.child.exitCode).toBeNull();
    // the revoked token cost a 401, after which the file was read again at once (not at the periodic re-read, 50 s after the last one)
    expect(controller.logs.filter((l) => l.includes('"msg":"token file read again after the API server rejected its token"')).map((l) => JSON.parse(l) as { changed: boolean })).toEqual(
      expect.arrayContaining([expect.objectContaining({ changed: true })]),
    );
  }, 240_000);
});
