// Access to the test garden started by test/jest/global-setup.mjs (or GARDEN_KUBECONFIG).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';

export function gardenKubeconfig(): string {
  const path = process.env.TEST_GARDEN_KUBECONFIG;
  if (!path) throw new Error('TEST_GARDEN_KUBECONFIG is not set: integration tests run through `npm test`, which starts the test garden');
  return path;
}

export function gardenClient(): KubeClient {
  return new KubeClient(loadKubeConfig(gardenKubeconfig()));
}

/** A short unique prefix for one test's objects (landscape prefixes are limited to 6 characters). */
export function uniquePrefix(letter = 't'): string {
  return letter + randomBytes(3).toString('hex').slice(0, 5);
}

/** Writes a kubeconfig for `path` that carries only a token of the ServiceAccount (TokenRequest): its identity, nothing else. */
export async function serviceAccountKubeconfig(client: KubeClient, namespace: string, name: string, path: string, expirationSeconds = 3600): Promise<string> {
  const tr = await client.core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds } } });
  const cluster = client.kubeConfig.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'garden', server: cluster.server, caData: cluster.caData, skipTLSVerify: cluster.skipTLSVerify }],
    users: [{ name: 'sa', token: tr.status!.token }],
    contexts: [{ name: 'sa', cluster: 'garden', user: 'sa' }],
    currentContext: 'sa',
  });
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}
