// Building blocks for scripted scenarios on a simulated landscape (end-to-end tests, benchmarks, demos):
// gardenlet and extension CanaryRollouts scoped to one landscape, and a landscape with its simulator running.
import { API_VERSION, CanaryRollout, KIND, type CanaryRolloutSpecInput } from '../api/v1alpha1.js';
import { ANNOTATION_CONFIRM_DELETION } from '../gardener/api.js';
import { RESOURCES, type KubeClient, type KubeObject } from '../kube/client.js';
import { createLogger, type Logger } from '../util/log.js';
import { ignoreNotFound, waitUntilGone } from './garden-writes.js';
import { createLandscape } from './landscape-create.js';
import { extensionChartRef, gardenletChartRef } from './landscape-objects.js';
import { LABEL_LANDSCAPE, type LandscapeSpec } from './landscape-plan.js';
import type { LiveOptions } from './live-options.js';
import { LiveSimulator } from './live.js';

/** A CanaryRollout of gardenlet `version` over the seeds of landscape `prefix`, labelled for that landscape. */
export function gardenletRollout(name: string, prefix: string, version: string, spec: Omit<Partial<CanaryRolloutSpecInput>, 'target'>): KubeObject {
  return rolloutIn(prefix, name, { gardenlet: { ociRepository: { ref: gardenletChartRef(version) }, version } }, spec);
}

/** A CanaryRollout of extension `deployment` at `version` (chart and helm values) over the seeds of landscape `prefix`. */
export function extensionRollout(
  name: string,
  prefix: string,
  deployment: string,
  version: string,
  spec: Omit<Partial<CanaryRolloutSpecInput>, 'target'>,
  opts: { values?: Record<string, unknown>; strategy?: 'Auto' | 'ReconcileGate' | 'SeedSelector' } = {},
): KubeObject {
  const helm = { ociRepository: { ref: extensionChartRef(deployment, version) }, ...(opts.values ? { values: opts.values } : {}) };
  // the simulated gardenlet's installation care period (LiveOptions.careSyncMs, 2 s), as an operator would set it
  const extension = { controllerDeployment: deployment, version, helm, strategy: opts.strategy ?? 'Auto', installationCarePeriod: '2s' };
  return rolloutIn(prefix, name, { extension }, spec);
}

function rolloutIn(prefix: string, name: string, target: CanaryRolloutSpecInput['target'], spec: Omit<Partial<CanaryRolloutSpecInput>, 'target'>): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, labels: { [LABEL_LANDSCAPE]: prefix } },
    spec: { target, seedSelector: { matchLabels: { [LABEL_LANDSCAPE]: prefix } }, ...spec },
  };
}

/**
 * Creates the landscape and starts a fast simulator on it (upgrades after 1 s, reconciles spread over 2 s). The
 * simulator plays gardenlet only: Gardener's own controllers in the test garden create the ControllerInstallations
 * and watch the seed Leases it renews.
 */
export async function liveLandscape(client: KubeClient, spec: LandscapeSpec, sim: LiveOptions = {}, log: Logger = createLogger({ level: 'error' })): Promise<LiveSimulator> {
  await createLandscape(client, spec);
  const simulator = new LiveSimulator(client, log, { prefix: spec.prefix, tickMs: 300, upgradeDelayMs: 1000, spreadMs: 2000, ...sim });
  simulator.start();
  return simulator;
}

/** A small landscape for end-to-end scenarios: aws/eu-1 and gcp/us-1 with three seeds each, at v1.149.0. */
export function smallLandscape(prefix: string, overrides: Partial<LandscapeSpec> = {}): LandscapeSpec {
  return {
    prefix,
    providers: [
      { type: 'aws', regions: ['eu-1'] },
      { type: 'gcp', regions: ['us-1'] },
    ],
    seedsPerRegion: 3,
    projects: 2,
    shootsPerSeed: 5,
    gardenerVersion: 'v1.149.0',
    ...overrides,
  };
}

/**
 * A landscape where exposure differs per seed, as in real landscapes: 3 providers x 2 regions, and in each region a
 * busy production seed (90 shoots, 50 production), a mixed one (50 shoots, 10 production) and a small one with only
 * evaluation and testing shoots (20). 960 shoots, 360 of them production. examples/gardenlet-rollout.yaml's canary
 * wave is planned against it in test/unit/autopick-example.test.ts.
 */
export function exposureLandscape(prefix: string): LandscapeSpec {
  const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);
  return {
    prefix,
    providers: ['aws', 'gcp', 'azure'].map((type) => ({ type, regions: ['eu-1', 'us-1'] })),
    seedsPerRegion: 3,
    projects: 6,
    shootsPerSeed: 0,
    seedProfiles: [
      { shoots: 90, purposes: [...times(5, 'production' as const), ...times(4, 'development' as const)] },
      { shoots: 50, purposes: ['production', 'development', 'testing', 'evaluation', 'development'] },
      { shoots: 20, purposes: ['evaluation', 'testing'] },
    ],
    gardenerVersion: 'v1.149.0',
  };
}

/**
 * Deletes rollouts and waits until they are gone. A rollout that holds emergency stops waits for an abort or a
 * confirmation before its deletion goes ahead; `confirm` (the default here, for clean-ups) gives that confirmation.
 */
export async function deleteRollouts(client: KubeClient, names: readonly string[], timeoutMs = 30_000, confirm = true): Promise<void> {
  for (const n of names) {
    if (confirm) await client.patch(RESOURCES.canaryRollouts, n, { metadata: { annotations: { [ANNOTATION_CONFIRM_DELETION]: 'true' } } }).catch(ignoreNotFound);
    await client.delete(RESOURCES.canaryRollouts, n);
  }
  await waitUntilGone(async () => (await Promise.all(names.map((n) => client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, n)))).filter((r) => r !== undefined), {
    timeoutMs,
    error: (left) => `CanaryRollout ${left.map((r) => r.metadata.name).join(', ')} not deleted within ${timeoutMs / 1000}s`,
  });
}
