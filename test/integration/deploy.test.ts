// deploy/ against the real garden API: the manifests apply (server-side dry run, then for real), the
// ServiceAccount may do exactly what the effects need and no more (SubjectAccessReviews), and the controller runs a
// rollout end to end with nothing but that ServiceAccount's identity, from the files the image holds (no node_modules).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { Gardenlet } from '../../src/gardener/api.js';
import { RESOURCES, statusCode } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { imageEntry, startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, serviceAccountKubeconfig, uniquePrefix } from '../support/garden.js';
import { kustomizeBuild, type Manifest } from '../support/kustomize.js';

const NAMESPACE = 'gardener-canary-rollout';
const SA = `system:serviceaccount:${NAMESPACE}:canary-rollout-controller`;
const client = gardenClient();
const objects = k8s.KubernetesObjectApi.makeApiClient(client.kubeConfig);
const authz = client.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
const manifests = kustomizeBuild('deploy');
const prefix = uniquePrefix('d');
let controller: ControllerProcess | undefined;
let sim: LiveSimulator | undefined;

/** The resource names of deploy/'s kinds outside the core group (a kind missing here fails the test, never silently). */
const PLURALS: Record<string, string> = {
  CustomResourceDefinition: 'customresourcedefinitions',
  Deployment: 'deployments',
  PodDisruptionBudget: 'poddisruptionbudgets',
  NetworkPolicy: 'networkpolicies',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  ValidatingAdmissionPolicy: 'validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
};

/**
 * Server-side apply. Objects of a named API group go through the untyped client, as written: client-node's typed
 * models drop what they name differently (the CRD's CEL rules, a NetworkPolicy's `from`, which its model calls
 * `_from`), so the typed client would apply something else than the file says. Core objects (Namespace, Service,
 * ServiceAccount) have no such fields and take the typed client, which knows the core API's paths.
 */
async function apply(m: Manifest, dryRun: boolean): Promise<void> {
  const opts = { dryRun: dryRun ? 'All' : undefined, fieldManager: 'canary-deploy-test', force: true };
  const [group, version] = m.apiVersion.split('/');
  if (version === undefined) {
    await objects.patch(m as k8s.KubernetesObject, undefined, opts.dryRun, opts.fieldManager, true, k8s.PatchStrategy.ServerSideApply);
    return;
  }
  const plural = PLURALS[m.kind];
  if (!plural) throw new Error(`apply: no resource name for kind ${m.kind} (add it to PLURALS)`);
  const args = { group: group!, version, plural, name: m.metadata.name, body: m, ...opts };
  const ssa = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  await (m.metadata.namespace ? client.objects.patchNamespacedCustomObject({ ...args, namespace: m.metadata.namespace }, ssa) : client.objects.patchClusterCustomObject(args, ssa));
}

async function ensureNamespace(name: string): Promise<void> {
  try {
    await client.core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

async function can(verb: string, resource: string, opts: { group?: string; namespace?: string; subresource?: string } = {}): Promise<boolean> {
  const r = await authz.createSubjectAccessReview({
    body: { spec: { user: SA, groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`], resourceAttributes: { verb, resource, group: opts.group ?? '', namespace: opts.namespace, subresource: opts.subresource } } },
  });
  return r.status?.allowed === true;
}

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  await ensureNamespace('garden');
}, 60_000);

afterAll(async () => {
  await deleteRollouts(client, [`${prefix}-sa`]).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('deploy/ manifests', () => {
  it('apply to the real garden API: server-side dry run first, then for real', async () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'Namespace',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Role',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'ServiceAccount',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ].sort(),
    );
    const ns = manifests.find((m) => m.kind === 'Namespace')!;
    await apply(ns, true);
    await apply(ns, false); // namespaced objects can only be dry-run into an existing namespace
    for (const m of manifests) await apply(m, true);
    for (const m of manifests) await apply(m, false);
    const dep = (await objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'canary-rollout-controller', namespace: NAMESPACE } })) as k8s.V1Deployment;
    expect(dep.spec!.replicas).toBe(2);
    const c = dep.spec!.template.spec!.containers[0]!;
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(dep.spec!.template.spec!.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.args).toEqual(expect.arrayContaining(['--install-crd=false', `--lease-namespace=${NAMESPACE}`]));
    expect(c.image).toMatch(/^europe-docker\.pkg\.dev\/.*:v\d/);
    // metrics only from a labelled namespace, egress only to the API server's ports (no DNS)
    // (untyped read: client-node's model renames `from` to `_from`)
    const np = (await client.objects.getNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespace: NAMESPACE, name: 'canary-rollout-controller' })) as {
      spec: { ingress: unknown[]; egress: { to?: unknown[]; ports: { protocol: string; port: number }[] }[] };
    };
    expect(np.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'canary.gardener.cloud/metrics-scraper': 'true' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(np.spec.egress.flatMap((e) => e.ports.map((p) => `${p.protocol}/${p.port}`))).toEqual(['TCP/443', 'TCP/6443']);
  }, 60_000);

  it('grants the ServiceAccount what the effects need, and no Secrets, no deletes of Seeds or Shoots', async () => {
    const gardener = 'core.gardener.cloud';
    const allowed: [string, string, { group?: string; namespace?: string; subresource?: string }][] = [
      ['watch', 'canaryrollouts', { group: 'canary.gardener.cloud' }],
      ['update', 'canaryrollouts', { group: 'canary.gardener.cloud', subresource: 'status' }],
      ['patch', 'canaryrollouts', { group: 'canary.gardener.cloud', subresource: 'status' }],
      ['patch', 'canaryrollouts', { group: 'canary.gardener.cloud' }],
      ['patch', 'seeds', { group: gardener }],
      ['list', 'shoots', { group: gardener }],
      ['patch', 'shoots', { group: gardener, namespace: 'garden-dev' }],
      ['patch', 'controllerdeployments', { group: gardener }],
      ['create', 'controllerregistrations', { group: gardener }],
      ['delete', 'controllerregistrations', { group: gardener }],
      ['watch', 'controllerinstallations', { group: gardener }],
      ['patch', 'gardenlets', { group: 'seedmanagement.gardener.cloud', namespace: 'garden' }],
      ['patch', 'managedseeds', { group: 'seedmanagement.gardener.cloud', namespace: 'garden' }],
      ['update', 'leases', { group: 'coordination.k8s.io', namespace: NAMESPACE }],
      ['create', 'events', { namespace: 'default' }],
    ];
    const denied: typeof allowed = [
      ['get', 'secrets', { namespace: 'garden' }],
      ['list', 'secrets', {}],
      ['delete', 'shoots', { group: gardener, namespace: 'garden-dev' }],
      ['delete', 'seeds', { group: gardener }],
      ['create', 'seeds', { group: gardener }],
      ['patch', 'controllerinstallations', { group: gardener }],
      ['patch', 'gardenlets', { group: 'seedmanagement.gardener.cloud', namespace: 'garden-dev' }],
      ['create', 'customresourcedefinitions', { group: 'apiextensions.k8s.io' }],
      ['update', 'leases', { group: 'coordination.k8s.io', namespace: 'kube-system' }],
      ['delete', 'canaryrollouts', { group: 'canary.gardener.cloud' }],
      // verbs no call of the controller uses (deploy/base/rbac.yaml)
      ['update', 'canaryrollouts', { group: 'canary.gardener.cloud' }],
      ['get', 'canaryrollouts', { group: 'canary.gardener.cloud', subresource: 'status' }],
      ['patch', 'events', { namespace: 'default' }],
    ];
    const verdict = async (list: typeof allowed) => Promise.all(list.map(async ([v, r, o]) => `${v} ${r}${o.subresource ? `/${o.subresource}` : ''}${o.namespace ? ` in ${o.namespace}` : ''}: ${await can(v, r, o)}`));
    expect(await verdict(allowed)).toEqual(allowed.map(([v, r, o]) => `${v} ${r}${o.subresource ? `/${o.subresource}` : ''}${o.namespace ? ` in ${o.namespace}` : ''}: true`));
    expect(await verdict(denied)).toEqual(denied.map(([v, r, o]) => `${v} ${r}${o.subresource ? `/${o.subresource}` : ''}${o.namespace ? ` in ${o.namespace}` : ''}: false`));
  });

  it('runs a rollout end to end with exactly the ServiceAccount\'s identity, as the image lays the controller out', async () => {
    // a token for the ServiceAccount (TokenRequest), and a kubeconfig that carries nothing else
    const path = await serviceAccountKubeconfig(client, NAMESPACE, 'canary-rollout-controller', join(mkdtempSync(join(tmpdir(), 'canary-sa-')), 'kubeconfig'));

    sim = await liveLandscape(client, smallLandscape(prefix, { shootsPerSeed: 3 }));
    controller = await startController(`${LABEL_LANDSCAPE}=${prefix}`, ['--kubeconfig', path, '--install-crd=false', '--lease-namespace', NAMESPACE], true, { entry: imageEntry() });
    const name = `${prefix}-sa`;
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, 'v1.150.0', {
        waves: [{ name: 'canary', count: 1, healthGate: { minSampleSize: 2 }, bake: '1s' }, { name: 'rest', percent: 100 }],
        healthGate: { minSampleSize: 2 },
        bake: '1s',
        shootReconciliation: { trigger: true, maxPerMinute: 600 },
      }),
    );
    await waitFor('Succeeded', async () => ((await client.get(RESOURCES.canaryRollouts, CanaryRollout, name)).status?.phase === 'Succeeded' ? true : undefined), 120_000, controller);
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
    expect(gardenlets.every((g) => g.spec.deployment?.helm?.ociRepository.ref === gardenletChartRef('v1.150.0'))).toBe(true);
    // nothing was forbidden along the way
    expect(controller.logs.filter((l) => /forbidden|\b403\b/i.test(l))).toEqual([]); // not a port number such as 40341
  }, 180_000);
});
