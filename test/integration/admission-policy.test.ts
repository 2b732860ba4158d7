// deploy/base/admission-policy.yaml against the real garden API: a CanaryRollout is admitted, on create or on a change
// of its target, only from a user who may make that change by hand. Two users, impersonated by the garden's admin
// (system:masters may impersonate): both may create and edit CanaryRollouts; only alice may patch Gardenlets in
// namespace garden and update one ControllerDeployment. The policy and binding are applied from deploy/ under their
// own names (deploy.test.ts applies the same objects); they are removed afterwards only if this test created them.
// The API server compiles the expressions when the policy is created (a syntax error is refused); checking their
// types against the CRD's schema (status.typeChecking) is kube-controller-manager's validatingadmissionpolicy-status
// controller, which the test garden does not run: the evaluations below are what shows the expressions work.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { RESOURCES, KubeClient, PooledKubeConfig, errorMessage, statusCode, type KubeObject } from '../../src/kube/client.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { extensionRollout, gardenletRollout } from '../../src/sim/scenario.js';
import { waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';
import { kustomizeBuild, type Manifest } from '../support/kustomize.js';

const client = gardenClient();
const objects = k8s.KubernetesObjectApi.makeApiClient(client.kubeConfig);
const rbac = client.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
const authz = client.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
const prefix = uniquePrefix('a');
const alice = `${prefix}-alice`; // may patch gardenlets in garden and update ControllerDeployment `deployment`
const bob = `${prefix}-bob`; // may only create and edit CanaryRollouts
const deployment = `${prefix}-ext`; // need not exist: RBAC and the policy look at names only
const POLICY = 'canary-rollout-target-authorization';
const policyManifests = kustomizeBuild('deploy').filter((m) => m.kind === 'ValidatingAdmissionPolicy' || m.kind === 'ValidatingAdmissionPolicyBinding');
const created: Manifest[] = []; // policy objects this test created (left alone if they were there before)
const rollouts: string[] = [];

/** A client that acts as `user` (Impersonate-User, from the admin's credentials). */
function as(user: string): KubeClient {
  const admin = client.kubeConfig;
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: admin.clusters,
    users: [{ ...admin.getCurrentUser()!, name: 'impersonated', impersonateUser: user }],
    contexts: [{ name: 'impersonated', cluster: admin.getCurrentCluster()!.name, user: 'impersonated' }],
    currentContext: 'impersonated',
  });
  return new KubeClient(kc);
}
const asAlice = as(alice);
const asBob = as(bob);

/** What the API answered: 'ok', or the status code and message of the refusal. */
async function outcome(write: () => Promise<unknown>): Promise<string> {
  try {
    await write();
    return 'ok';
  } catch (err) {
    if (statusCode(err) === undefined) throw err;
    return `${statusCode(err)} ${errorMessage(err)}`;
  }
}

const spec = { dryRun: true, waves: [{ name: 'all', percent: 100 }] }; // no seed carries the prefix: nothing to touch anyway
const gardenlet = (name: string) => gardenletRollout(name, prefix, 'v1.150.0', spec);
const extension = (name: string, cd = deployment) => extensionRollout(name, prefix, cd, 'v1.2.0', spec);

async function create(who: KubeClient, body: KubeObject, opts: { dryRun?: boolean } = {}): Promise<string> {
  if (!opts.dryRun) rollouts.push(body.metadata.name);
  const rt = RESOURCES.canaryRollouts;
  return outcome(() =>
    opts.dryRun
      ? who.objects.createClusterCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, body: { apiVersion: `${rt.group}/${rt.version}`, kind: rt.kind, ...body }, dryRun: 'All' })
      : who.create(rt, body),
  );
}

/**
 * The API's answer when the policy refuses `user` a write of rollout `name`: kube-apiserver wraps the message in
 * admission.NewForbidden with the policy's reason, Forbidden, so 403 (kubernetes
 * staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go).
 */
const denied = (name: string, user: string, lacks: string) =>
  `403 canaryrollouts.canary.gardener.cloud "${name}" is forbidden: ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request: user ${user} ${lacks}`;
const LACKS_GARDENLETS =
  'may not patch gardenlets.seedmanagement.gardener.cloud in namespace garden: a CanaryRollout of target.gardenlet writes the chart into the Gardenlets of the seeds it promotes, so its creator needs that permission';
const lacksDeployment = (cd: string) =>
  `may neither update nor patch controllerdeployments.core.gardener.cloud ${cd}: a CanaryRollout of target.extension writes its helm content, so its creator needs that permission`;

async function may(user: string, verb: string, resource: string, group: string, opts: { namespace?: string; name?: string } = {}): Promise<boolean> {
  const r = await authz.createSubjectAccessReview({ body: { spec: { user, groups: ['system:authenticated'], resourceAttributes: { verb, resource, group, ...opts } } } });
  return r.status?.allowed === true;
}

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  try {
    await client.core.createNamespace({ body: { metadata: { name: 'garden' } } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
  const labels = { [LABEL_LANDSCAPE]: prefix };
  const subject = (name: string) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
  // both: create and edit CanaryRollouts, their status included
  await rbac.createClusterRole({
    body: {
      metadata: { name: `${prefix}:rollout-editor`, labels },
      rules: [
        { apiGroups: ['canary.gardener.cloud'], resources: ['canaryrollouts'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['canary.gardener.cloud'], resources: ['canaryrollouts/status'], verbs: ['update', 'patch'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: `${prefix}:rollout-editor`, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${prefix}:rollout-editor` }, subjects: [subject(alice), subject(bob)] },
  });
  // alice: patch Gardenlets in garden, update one ControllerDeployment by name
  await rbac.createNamespacedRole({
    namespace: 'garden',
    body: { metadata: { name: `${prefix}:gardenlet-patcher`, labels }, rules: [{ apiGroups: ['seedmanagement.gardener.cloud'], resources: ['gardenlets'], verbs: ['patch'] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'garden',
    body: { metadata: { name: `${prefix}:gardenlet-patcher`, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${prefix}:gardenlet-patcher` }, subjects: [subject(alice)] },
  });
  await rbac.createClusterRole({
    body: {
      metadata: { name: `${prefix}:deployment-updater`, labels },
      rules: [{ apiGroups: ['core.gardener.cloud'], resources: ['controllerdeployments'], resourceNames: [deployment], verbs: ['update'] }],
    },
  });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: `${prefix}:deployment-updater`, labels }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${prefix}:deployment-updater` }, subjects: [subject(alice)] },
  });
  // RBAC is read from the authorizer's caches: wait until it knows the new bindings
  await waitFor(
    'the RBAC of alice and bob',
    async () =>
      (await may(alice, 'patch', 'gardenlets', 'seedmanagement.gardener.cloud', { namespace: 'garden' })) &&
      (await may(alice, 'update', 'controllerdeployments', 'core.gardener.cloud', { name: deployment })) &&
      (await may(bob, 'create', 'canaryrollouts', 'canary.gardener.cloud'))
        ? true
        : undefined,
    30_000,
  );

  for (const m of policyManifests) {
    const existing = await objects.read({ apiVersion: m.apiVersion, kind: m.kind, metadata: { name: m.metadata.name } }).catch((err: unknown) => {
      if (statusCode(err) === 404) return undefined;
      throw err;
    });
    if (!existing) created.push(m);
    // server-side apply as written (the untyped client: client-node's typed models can drop fields, see deploy.test.ts)
    const plural = m.kind === 'ValidatingAdmissionPolicy' ? 'validatingadmissionpolicies' : 'validatingadmissionpolicybindings';
    await client.objects.patchClusterCustomObject(
      { group: 'admissionregistration.k8s.io', version: 'v1', plural, name: m.metadata.name, body: m, fieldManager: 'canary-admission-test', force: true },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
  }
  // the API server picks policies up from its informers: wait until the policy denies bob (a dry run creates nothing)
  await waitFor(
    'the policy to be in force',
    async () => ((await create(asBob, gardenlet(`${prefix}-probe`), { dryRun: true })).startsWith(`403 `) ? true : undefined),
    60_000,
  );
}, 120_000);

afterAll(async () => {
  const rt = RESOURCES.canaryRollouts;
  for (const name of rollouts) {
    // nothing reconciles these (no controller selects the prefix); drop a finalizer all the same, then delete
    await client.patch(rt, name, { metadata: { finalizers: null } }).catch(() => undefined);
    await client.delete(rt, name);
  }
  for (const m of [...created].reverse()) await objects.delete(m as k8s.KubernetesObject).catch(() => undefined);
  const selector = `${LABEL_LANDSCAPE}=${prefix}`;
  await rbac.deleteCollectionClusterRoleBinding({ labelSelector: selector });
  await rbac.deleteCollectionClusterRole({ labelSelector: selector });
  await rbac.deleteCollectionNamespacedRoleBinding({ namespace: 'garden', labelSelector: selector });
  await rbac.deleteCollectionNamespacedRole({ namespace: 'garden', labelSelector: selector });
  for (const c of [asAlice, asBob, client]) c.kubeConfig.close();
});

describe('deploy/base/admission-policy.yaml: who may create a CanaryRollout', () => {
  it('gardenlet target: bob, who may not patch Gardenlets, is refused with what he lacks; alice gets through', async () => {
    expect(await create(asBob, gardenlet(`${prefix}-g-bob`))).toBe(denied(`${prefix}-g-bob`, bob, LACKS_GARDENLETS));
    expect(await create(asAlice, gardenlet(`${prefix}-g-alice`))).toBe('ok');
    expect(await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, `${prefix}-g-bob`)).toBeUndefined();
    expect((await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, `${prefix}-g-alice`))?.metadata.name).toBe(`${prefix}-g-alice`);
  });

  it('extension target: checked by the ControllerDeployment\'s name; bob is refused, alice only for the one she may update', async () => {
    expect(await create(asBob, extension(`${prefix}-e-bob`))).toBe(denied(`${prefix}-e-bob`, bob, lacksDeployment(deployment)));
    expect(await create(asAlice, extension(`${prefix}-e-other`, `${prefix}-other`))).toBe(denied(`${prefix}-e-other`, alice, lacksDeployment(`${prefix}-other`)));
    expect(await create(asAlice, extension(`${prefix}-e-alice`))).toBe('ok');
  });

  it('updates: a change of the target is checked like a create; annotations, finalizers and status writes are not', async () => {
    const rt = RESOURCES.canaryRollouts;
    const name = `${prefix}-e-alice`;
    // the one mutable part of the target: bob may not flip it, alice may
    const flip = (v: boolean) => ({ spec: { target: { extension: { managedResourceIgnored: v } } } });
    expect(await outcome(() => asBob.patch(rt, name, flip(true)))).toBe(denied(name, bob, lacksDeployment(deployment)));
    expect(await outcome(() => asAlice.patch(rt, name, flip(true)))).toBe('ok');
    // the rest of the target is immutable for everyone: the schema refuses it before admission runs
    const retarget = await outcome(() => asAlice.patch(rt, name, { spec: { target: { extension: { version: 'v9.9.9' } } } }));
    expect(retarget).toMatch(/^422 .*target is immutable/);
    // bob's edits that leave the target alone never reach the checks: an operation annotation, a finalizer, the status
    expect(await outcome(() => asBob.patch(rt, name, { metadata: { annotations: { 'canary.gardener.cloud/operation': 'pause' } } }))).toBe('ok');
    expect(await outcome(() => asBob.patch(rt, name, { metadata: { finalizers: ['canary.gardener.cloud/test'] } }))).toBe('ok');
    expect(await outcome(() => asBob.patchStatus(rt, name, { status: { message: 'written by bob' } }))).toBe('ok');
    expect(await outcome(() => asBob.patch(rt, name, { metadata: { finalizers: null } }))).toBe('ok');
  });
});
