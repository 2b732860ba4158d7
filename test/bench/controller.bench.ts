// Benchmark: the controller as its own process against a real garden (needs the test garden; starts one unless
// GARDEN_KUBECONFIG is set).
// - memory with 100 seeds and 5,000 shoots cached;
// - API requests per minute once synced, with a rollout baking;
// - halt latency: from the shoot status write that crosses the threshold to phase Halted with the emergency stop
//   on the seed (3 runs on small landscapes);
// - extension halt latency: the same for a ControllerDeployment behind the reconcile gate, until every planned seed
//   is stopped (3 runs).
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { deleteRollouts, extensionRollout, gardenletRollout, liveLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../../src/api/install.js';
import { ANNOTATION_EMERGENCY_STOP, ControllerInstallation, Seed } from '../../src/gardener/api.js';
import { KubeClient, loadKubeConfig, RESOURCES, type KubeObject } from '../../src/kube/client.js';
import { deleteExtension, deleteLandscape, ensureExtension, LABEL_LANDSCAPE } from '../../src/sim/landscape.js';
import type { LiveOptions } from '../../src/sim/live.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { benchGarden } from './bench-garden.js';
import { counters, procMiB, startControllerProcess } from './controller-process.js';

/** How long the quiet-bake window lasts (the figure: 5 minutes). */
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 300);

function rolloutObj(name: string, prefix: string, version: string, canary: string, bake: string) {
  return gardenletRollout(name, prefix, version, {
    waves: [{ name: 'canary', seedNames: [canary], bake, healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }],
    healthGate: { minSampleSize: 3 },
    progressDeadline: '1h',
  });
}

function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, pollMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Seeds of a halt-latency landscape (one region); the canary is the first. */
const HALT_SEEDS = 3;

interface HaltScenario {
  /** The simulator's faults and, for an extension, the registrations it plays. */
  live: (prefix: string) => Pick<LiveOptions, 'faults' | 'extensions'>;
  rollout: (name: string, prefix: string, canary: string) => KubeObject;
  /** Whether the halt's emergency stops are in place. */
  stopped: (seeds: readonly Seed[], canary: string) => boolean;
  before?: (prefix: string) => Promise<void>;
  /** Waits until the landscape is ready for the rollout (the controller starts after it). */
  ready?: (prefix: string) => Promise<unknown>;
  after?: (prefix: string) => Promise<void>;
}

/**
 * 3 runs on fresh small landscapes: from the first unhealthy shoot status write to phase Halted with the scenario's
 * stops in place.
 */
async function haltLatencies(client: KubeClient, kubeconfig: string, letters: string, log: Logger, sc: HaltScenario): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < 3; i++) {
    const p = `${letters}${i}`;
    await deleteLandscape(client, p);
    await sc.before?.(p);
    const faulty = await liveLandscape(
      client,
      { prefix: p, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: HALT_SEEDS, projects: 1, shootsPerSeed: 8, gardenerVersion: 'v1.149.0' },
      { tickMs: 200, upgradeDelayMs: 500, spreadMs: 3000, ...sc.live(p) },
      log,
    );
    await sc.ready?.(p);
    const c = await startControllerProcess(kubeconfig, `${LABEL_LANDSCAPE}=${p}`);
    const canary = `${p}-aws-eu-1-0`;
    const name = `${p}-halt`;
    await client.create(RESOURCES.canaryRollouts, sc.rollout(name, p, canary));
    const haltedAt = await until(async () => {
      const [r, seeds] = await Promise.all([client.get(RESOURCES.canaryRollouts, CanaryRollout, name), client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${p}` })]);
      return r.status?.phase === 'Halted' && sc.stopped(seeds, canary) ? Date.now() : undefined;
    }, 120_000);
    latencies.push(haltedAt - faulty.stats.firstUnhealthyAt);
    await deleteRollouts(client, [name], 60_000);
    await c.stop();
    await faulty.stop();
    await sc.after?.(p);
    await deleteLandscape(client, p);
  }
  return latencies;
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

    // 2. halt latency
    const latencies = await haltLatencies(client, kubeconfig, 'hl', log, {
      live: () => ({ faults: { faultyVersion: 'v1.150.9', unhealthyRatio: 1 } }),
      rollout: (name, p, canary) => rolloutObj(name, p, 'v1.150.9', canary, '1h'),
      stopped: (seeds, canary) => seeds.some((s) => s.metadata.name === canary && s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true'),
    });
    result.haltLatencyMs = { runs: latencies, median: median(latencies) };

    // 3. extension halt latency (reconcile gate on a primary registration): from the first unhealthy shoot on the
    // canary to phase Halted with every planned seed stopped
    const ext = (p: string) => `${p}-ext`;
    const extLatencies = await haltLatencies(client, kubeconfig, 'xl', log, {
      live: (p) => ({ extensions: { registrations: [ext(p)] }, faults: { faultyVersion: 'v2.0.9', unhealthyRatio: 1 } }),
      before: async (p) => {
        await deleteExtension(client, ext(p));
        await ensureExtension(client, { name: ext(p), type: ext(p), primary: true, policy: 'Always', version: 'v2.0.0' });
      },
      ready: (p) => until(async () => ((await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter((ci) => ci.spec.registrationRef.name === ext(p)).length === HALT_SEEDS ? true : undefined), 60_000, 500),
      rollout: (name, p, canary) =>
        extensionRollout(name, p, ext(p), 'v2.0.9', {
          waves: [{ name: 'canary', seedNames: [canary], bake: '1h', healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }],
          healthGate: { minSampleSize: 3 },
          progressDeadline: '1h',
          shootReconciliation: { trigger: true, maxPerMinute: 600 },
        }),
      stopped: (seeds) => seeds.filter((s) => s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true').length === HALT_SEEDS,
      after: (p) => deleteExtension(client, ext(p)),
    });
    result.extensionHaltLatencyMs = { runs: extLatencies, median: median(extLatencies) };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    client.kubeConfig.close();
    await garden.stop();
  }
}
