// Access to the test garden started by test/jest/global-setup.mjs (or GARDEN_KUBECONFIG).
import { randomBytes } from 'node:crypto';
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
