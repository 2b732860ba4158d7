// Benchmark: the controller as its own process against a real garden (needs the test garden; starts one unless
// GARDEN_KUBECONFIG is set).
// - memory with 100 seeds and 5,000 shoots cached;
// - API requests per minute once synced, with a rollout baking.
// Halt latencies (30 runs, gardenlet and extension targets, beside 20,000 shoots) are scale.bench.ts's.
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { deleteRollouts, gardenletRollout, liveLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../../src/kube/install-crd.js';
import { KubeClient, loadKubeConfig, RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { createLogger } from '../../src/util/log.js';
import { benchGarden } from './bench-garden.js';
import { counters, procMiB, startControllerProcess } from './controller-process.js';
import { until } from './until.js';

/** How long the quiet-bake window lasts (the figure: 5 minutes). */
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 300);

function rolloutObj(name: string, prefix: string, version: string, canary: string, bake: string) {
  return gardenletRollout(name, prefix, version, {
    waves: [{ name: 'canary', seedNames: [canary], bake, healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }],
    healthGate: { minSampleSize: 3 },
    progressDeadline: '1h',
  });
}

export async function run(): Promise<void> {
  const garden = await benchGarden();
  const kubeconfig = garden.kubeconfig;
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  const log = createLogger({ level: 'error' });
  await ensureCanaryRolloutCRD(client);
  const result: Record<string, unknown> = { benchmark: 'controller' };
  try {
    // 1. a large landscape, a rollout baking: memory and requests per minute
    const prefix = 'ctl';
    await deleteLandscape(client, prefix);
    const providers = ['aws', 'gcp', 'azure', 'openstack', 'alicloud'].map((type) => ({ type, regions: ['r1', 'r2', 'r3', 'r4'] }));
    const sim = await liveLandscape(
      client,
      { prefix, providers, seedsPerRegion: 5, managedSeeds: 10, projects: 50, shootsPerSeed: 50, hibernateEvery: 10, gardenerVersion: 'v1.149.0', concurrency: 32 },
      { tickMs: 3000, upgradeDelayMs: 1000, spreadMs: 5000 },
      log,
    );
    const ctl = await startControllerProcess(kubeconfig, `${LABEL_LANDSCAPE}=${prefix}`);
    result.memoryAfterSyncMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    await client.create(RESOURCES.canaryRollouts, rolloutObj('ctl-bake', prefix, 'v1.150.0', 'ctl-aws-r1-0', '1h'));
    await until(async () => {
      const r = await client.get(RESOURCES.canaryRollouts, CanaryRollout, 'ctl-bake');
      return r.status?.waves?.[0]?.phase === 'Baking' ? r : undefined;
    }, 300_000, 500);
    await new Promise((r) => setTimeout(r, 10_000)); // let the canary's reconciles settle
    const r0 = await counters(ctl.port);
    await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
    const r1 = await counters(ctl.port);
    result.requestsPerMinuteWhileBaking = Math.round(((r1.requests - r0.requests) * 60) / QUIET_SECONDS);
    result.quietBake = { seconds: QUIET_SECONDS, reconciles: r1.reconciles - r0.reconciles, writes: r1.writes - r0.writes, conflicts: r1.conflicts - r0.conflicts };
    result.memoryWhileBakingMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    await deleteRollouts(client, ['ctl-bake'], 60_000);
    await ctl.stop();
    await sim.stop();
    await deleteLandscape(client, prefix);

    console.log(JSON.stringify(result, null, 2));
  } finally {
    client.kubeConfig.close();
    await garden.stop();
  }
}
