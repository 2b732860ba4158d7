// Plays gardener-operator's gardener-info: the ConfigMap gardener-system-public/gardener-info with gardener-apiserver's
// version (pkg/operator/controller/garden/garden/reconciler_reconcile.go, reconcileGardenerInfoConfigMap: key
// gardenerAPIServer, a YAML document with `version`), and the Role and RoleBinding that let every authenticated user
// read it (pkg/component/garden/system/virtual/virtual.go). gardenlet refuses to start without it
// (pkg/gardenlet/bootstrappers/verify_version.go), so every real garden has it; the test garden runs no
// gardener-operator, so the fixtures write it. An existing ConfigMap is never changed: a real garden keeps its own.
import * as k8s from '@kubernetes/client-node';
import { GARDENER_INFO } from '../gardener/api.js';
import type { KubeClient } from '../kube/client.js';
import { createUnlessExists, ensureNamespace } from './garden-writes.js';

/**
 * The Gardener version the simulated landscape announces. The test garden's gardener-apiserver is v1.150.0, but it
 * checks no skew itself; the versions the simulated gardenlets report (v1.149.0 rolling to v1.150.x and v1.151.0)
 * are labels, not binaries, and v1.151.0 keeps all of them within Gardener's skew policy (preflight.ts).
 */
export const SIMULATED_GARDENER_VERSION = 'v1.151.0';

const READER_ROLE = 'gardener.cloud:system:read-gardener-system-public';

export async function ensureGardenerInfo(client: KubeClient, version = SIMULATED_GARDENER_VERSION): Promise<void> {
  const namespace = GARDENER_INFO.namespace;
  await ensureNamespace(client, namespace);
  await createUnlessExists(`ConfigMap ${namespace}/${GARDENER_INFO.name}`, () =>
    client.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: GARDENER_INFO.name, namespace }, data: { [GARDENER_INFO.key]: `version: ${version}\n` } } }),
  );
  const rbac = client.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  await createUnlessExists(`Role ${namespace}/${READER_ROLE}`, () =>
    rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: READER_ROLE, namespace }, rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [GARDENER_INFO.name, 'kube-root-ca.crt'], verbs: ['get', 'list', 'watch'] }] },
    }),
  );
  await createUnlessExists(`RoleBinding ${namespace}/${READER_ROLE}`, () =>
    rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: READER_ROLE, namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: READER_ROLE },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }],
      },
    }),
  );
}
