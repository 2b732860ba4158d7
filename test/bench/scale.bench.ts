// Benchmark (issue 16): the controller at landscape scale on the real garden API, in one run.
//   npm run bench -- scale                       # starts its own test garden
//   GARDEN_KUBECONFIG=... npm run bench -- scale  # an existing garden; BENCH_KEEP=1 keeps the big landscape for the next run
//   BENCH_SYNC_ONLY=1 [BENCH_NODE_FLAGS='...'] [BENCH_CONTROLLER_ARGS='...']  # only the sync and the memory after it
// - a quiet landscape of ~200 seeds and 20,000 shoots (the fixtures; its gardenlets' heartbeats are renewed by the
//   benchmark, as every gardenlet renews its Lease), created at the start or reused when its counts match;
// - the controller as its own process: seconds from process start to caches synced, RSS once synced and peak;
// - 5 quiet minutes with a rollout baking: the controller's own request metrics by verb;
// - halt latency, gardenlet and extension (reconcile gate) targets, BENCH_HALT_RUNS runs each (default 30) on a small
//   live landscape beside the big one (3 seeds x 8 shoots, the simulator playing its gardenlets), every run with a
//   fresh one: from the shoot status write that crosses the threshold (the simulator's, once committed) to the moment
//   this benchmark's own watches have seen phase Halted and every stop the run needs. The floor of each run, timed
//   right after it: this benchmark's watch of a shoot status write (from the write's start to the event), plus one
//   CanaryRollout status write, plus one Seed patch.
import * as k8s from '@kubernetes/client-node';
import { ensureCanaryRolloutCRD } from '../../src/kube/install-crd.js';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { exposedSince } from '../../src/engine/extension.js';
import { isExposed, type Exposure } from '../../src/engine/health.js';
import { ANNOTATION_EMERGENCY_STOP, ControllerInstallation, Seed, Shoot } from '../../src/gardener/api.js';
import { KubeClient, loadKubeConfig, RESOURCES, type KubeObject } from '../../src/kube/client.js';
import { deleteExtension, ensureExtension } from '../../src/sim/extension-fixtures.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE, planLandscape, type LandscapeSpec } from '../../src/sim/landscape-plan.js';
import { renewSeedLease } from '../../src/sim/lease.js';
import type { LiveOptions } from '../../src/sim/live-options.js';
import { deleteRollouts, extensionRollout, gardenletRollout, liveLandscape } from '../../src/sim/scenario.js';
import { mapLimit } from '../../src/util/concurrency.js';
import { createLogger } from '../../src/util/log.js';
import { benchGarden } from './bench-garden.js';
import { counters, procMiB, startControllerProcess, verbDelta } from './controller-process.js';
import { until } from './until.js';

const BIG = 'scale';
/** Every rollout of this benchmark carries it; the controller reconciles only those. */
const RUN_LABEL = 'bench.canary.gardener.cloud/run';
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 300);
const HALT_RUNS = Number(process.env.BENCH_HALT_RUNS ?? 30);
const HALT_SEEDS = 3;

function bigLandscape(): LandscapeSpec {
  // 5 providers x 4 regions x 10 seeds = 200 seeds (20 of them managed), 100 shoots each
  const seedsPerRegion = Number(process.env.BENCH_SEEDS_PER_REGION ?? 10);
  return {
    prefix: BIG,
    providers: ['aws', 'gcp', 'azure', 'openstack', 'alicloud'].map((type) => ({ type, regions: ['r1', 'r2', 'r3', 'r4'] })),
    seedsPerRegion,
    managedSeeds: seedsPerRegion * 2,
    projects: 50,
    shootsPerSeed: Number(process.env.BENCH_SHOOTS_PER_SEED ?? 100),
    hibernateEvery: 10,
    unhealthyEvery: 50,
    gardenerVersion: 'v1.149.0',
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 64),
    settled: true,
  };
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

const summary = (xs: readonly number[]) => ({ runs: xs.length, p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), p99: quantile(xs, 0.99), max: Math.max(...xs) });

const labelled = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, labels: { ...(o.metadata.labels as Record<string, string>), [RUN_LABEL]: 'scale' } } });

/** A watch of this benchmark's own: calls `on` with each object and the moment its event arrived. */
async function watch(kc: k8s.KubeConfig, path: string, query: Record<string, string>, on: (obj: KubeObject, at: number) => void): Promise<AbortController> {
  return new k8s.Watch(kc).watch(path, query, (_type: string, obj: KubeObject) => on(obj, Date.now()), () => undefined);
}

/** The big landscape's gardenlets renew their Leases (Gardener's seed lifecycle controller would mark them Unknown). */
function heartbeats(client: KubeClient, seeds: readonly Seed[], everyMs = 10_000): () => void {
  let stopped = false;
  const beat = async () => {
    while (!stopped) {
      const started = Date.now();
      await mapLimit(seeds, 16, (s) => renewSeedLease(client, { name: s.metadata.name, uid: s.metadata.uid }, Date.now(), everyMs)).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs / 2 - (Date.now() - started))));
    }
  };
  void beat();
  return () => void (stopped = true);
}

/**
 * Waits until no shoot has changed for `quietMs`: after the fixtures, Gardener's own controllers in the garden
 * (gardener-controller-manager's controllerregistration controllers) add their finalizer to every shoot and
 * recompute each seed's installations, minutes of work at 20,000 shoots that a settled landscape has long done.
 */
async function settle(kc: k8s.KubeConfig, quietMs = 15_000, timeoutMs = 20 * 60_000): Promise<number> {
  const started = Date.now();
  let last = Date.now();
  const rv = ((await kc.makeApiClient(k8s.CustomObjectsApi).listClusterCustomObject({ group: 'core.gardener.cloud', version: 'v1beta1', plural: 'shoots', limit: 1 })) as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? '';
  const w = await watch(kc, '/apis/core.gardener.cloud/v1beta1/shoots', { resourceVersion: rv }, (_o, at) => (last = at));
  try {
    await until(() => (Date.now() - last >= quietMs ? true : undefined), timeoutMs, 500);
  } finally {
    w.abort();
  }
  return Math.round((Date.now() - started - quietMs) / 1000);
}

async function ensureBig(client: KubeClient): Promise<Record<string, unknown>> {
  const spec = bigLandscape();
  const plan = planLandscape(spec);
  const sel = { labelSelector: `${LABEL_LANDSCAPE}=${BIG}` };
  const [seeds, shoots] = await Promise.all([client.list(RESOURCES.seeds, Seed, sel), client.list(RESOURCES.shoots, Shoot, sel)]);
  // the managed seeds' hosting shoots live in `garden` and carry the label too
  if (seeds.length === plan.seeds.length && shoots.length >= plan.shoots.length) return { reused: true, seeds: seeds.length, shoots: shoots.length };
  await deleteLandscape(client, BIG, 64);
  const started = performance.now();
  const { timings } = await createLandscape(client, spec);
  const seconds = (performance.now() - started) / 1000;
  return { reused: false, seeds: plan.seeds.length, shoots: plan.shoots.length, seconds: +seconds.toFixed(1), phasesMs: timings, shootsPerSecond: Math.round(plan.shoots.length / ((timings.shoots ?? 1) / 1000)) };
}

interface HaltScenario {
  live: (prefix: string) => Pick<LiveOptions, 'faults' | 'extensions'>;
  rollout: (name: string, prefix: string, canary: string) => KubeObject;
  /** What running the new version means on the canary, once halted (the gate's exposure rule, health.ts). */
  exposure: (prefix: string, rollout: string, canary: string) => Promise<Exposure>;
  /** The stops a halt of this scenario puts in place, on these seeds. */
  stopped: (annotated: ReadonlySet<string>, canary: string) => boolean;
  before?: (prefix: string) => Promise<void>;
  ready?: (prefix: string) => Promise<unknown>;
  after?: (prefix: string) => Promise<void>;
}

/** Floor of a halt: a watch of a shoot status write + one CanaryRollout status write + one Seed patch. */
async function floor(client: KubeClient, kc: k8s.KubeConfig, prefix: string, run: number): Promise<number> {
  const shoot = (await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` })).find((s) => s.metadata.namespace !== 'garden')!;
  const marker = `floor-${run}-${Date.now()}`;
  let seenAt = 0;
  const w = await watch(kc, `/apis/core.gardener.cloud/v1beta1/namespaces/${shoot.metadata.namespace}/shoots`, { fieldSelector: `metadata.name=${shoot.metadata.name}` }, (o, at) => {
    if ((o as { status?: { lastOperation?: { description?: string } } }).status?.lastOperation?.description === marker) seenAt = at;
  });
  // the same clock as the watch's arrival times (Date.now): performance.timeOrigin + now() drifts from it in a long run
  const t0 = Date.now();
  await client.patchStatus(RESOURCES.shoots, shoot.metadata.name, { status: { lastOperation: { description: marker } } }, shoot.metadata.namespace);
  await until(() => (seenAt ? true : undefined), 10_000, 1);
  w.abort();
  const watched = seenAt - t0;
  const s0 = performance.now();
  await client.patchStatus(RESOURCES.canaryRollouts, 'scale-floor', { status: { message: marker } });
  const statusWrite = performance.now() - s0;
  const p0 = performance.now();
  await client.patch(RESOURCES.seeds, `${prefix}-aws-eu-1-${HALT_SEEDS - 1}`, { metadata: { annotations: { 'bench.canary.gardener.cloud/floor': marker } } });
  const seedPatch = performance.now() - p0;
  return watched + statusWrite + seedPatch;
}

async function haltRuns(client: KubeClient, kc: k8s.KubeConfig, letters: string, sc: HaltScenario): Promise<{ latencies: number[]; floors: number[]; sinceCrossing: number[] }> {
  const latencies: number[] = [];
  const floors: number[] = [];
  const sinceCrossing: number[] = [];
  const log = createLogger({ level: 'error' });
  for (let i = 0; i < HALT_RUNS; i++) {
    const p = `${letters}${i}`;
    await deleteLandscape(client, p);
    await sc.before?.(p);
    const sim = await liveLandscape(
      client,
      { prefix: p, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: HALT_SEEDS, projects: 1, shootsPerSeed: 8, gardenerVersion: 'v1.149.0' },
      { tickMs: 200, upgradeDelayMs: 500, spreadMs: 3000, ...sc.live(p) },
      log,
    );
    await sc.ready?.(p);
    const canary = `${p}-aws-eu-1-0`;
    const name = `${p}-halt`;
    let haltedAt = 0;
    const annotatedAt = new Map<string, number>();
    const watches = await Promise.all([
      watch(kc, '/apis/canary.gardener.cloud/v1alpha1/canaryrollouts', { fieldSelector: `metadata.name=${name}` }, (o, at) => {
        if ((o as CanaryRollout).status?.phase === 'Halted' && !haltedAt) haltedAt = at;
      }),
      watch(kc, '/apis/core.gardener.cloud/v1beta1/seeds', { labelSelector: `${LABEL_LANDSCAPE}=${p}` }, (o, at) => {
        const stopped = (o.metadata.annotations as Record<string, string> | undefined)?.[ANNOTATION_EMERGENCY_STOP] === 'true';
        if (stopped && !annotatedAt.has(o.metadata.name)) annotatedAt.set(o.metadata.name, at);
      }),
    ]);
    await client.create(RESOURCES.canaryRollouts, labelled(sc.rollout(name, p, canary)));
    const doneAt = await until(() => (haltedAt && sc.stopped(new Set(annotatedAt.keys()), canary) ? Math.max(haltedAt, ...annotatedAt.values()) : undefined), 120_000);
    for (const w of watches) w.abort();
    latencies.push(doneAt - sim.unhealthyWrites[0]!.at);
    // the write that crosses the threshold: the first unhealthy shoot write on the canary that the gate can count, as
    // the API stored it (health.ts isExposed; an extension counts a reconcile that finished, to the second, after
    // its seed's release and its installation at the new revision)
    const exposure = await sc.exposure(p, name, canary);
    const crossing = sim.unhealthyWrites.find((w) => w.seed === canary && isExposed(Shoot.parse(w.shoot), exposure));
    if (crossing) sinceCrossing.push(doneAt - crossing.at);
    floors.push(await floor(client, kc, p, i));
    await deleteRollouts(client, [name], 60_000);
    await sim.stop();
    await sc.after?.(p);
    await deleteLandscape(client, p);
  }
  return { latencies, floors, sinceCrossing };
}

export async function run(): Promise<void> {
  const garden = await benchGarden();
  const kc = loadKubeConfig(garden.kubeconfig);
  const client = new KubeClient(kc);
  await ensureCanaryRolloutCRD(client);
  const result: Record<string, unknown> = { benchmark: 'scale' };
  let stopBeats = () => undefined as void;
  let ctl: Awaited<ReturnType<typeof startControllerProcess>> | undefined;
  try {
    result.landscape = { ...(await ensureBig(client)), settledAfterSeconds: await settle(kc) };
    const bigSeeds = await client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${BIG}` });
    stopBeats = heartbeats(client, bigSeeds);
    // the floor's status write goes to a rollout no controller reconciles (no run label)
    await client.create(RESOURCES.canaryRollouts, gardenletRollout('scale-floor', 'scale-floor', 'v1.150.0', { waves: [{ name: 'all', percent: 100 }] })).catch(() => undefined);

    // BENCH_CONTROLLER_ARGS: controller flags to compare (e.g. --list-page-size 500)
    ctl = await startControllerProcess(garden.kubeconfig, `${RUN_LABEL}=scale`, process.env.BENCH_CONTROLLER_ARGS?.split(' ').filter(Boolean) ?? []);
    // the controller's RSS sampled every 250 ms, its highest value per phase of this benchmark
    const pid = ctl.pid;
    const rssPeaks: Record<string, number> = { sync: procMiB(pid, 'VmHWM') };
    let phase = 'bake';
    const sampler = setInterval(() => {
      try {
        rssPeaks[phase] = Math.max(rssPeaks[phase] ?? 0, procMiB(pid, 'VmRSS'));
      } catch {
        // the process is gone
      }
    }, 250);
    result.rssPeaksMiB = rssPeaks;
    result.sync = { secondsFromProcessStart: ctl.synced.secondsSinceProcessStart, shoots: ctl.synced.shoots, seeds: ctl.synced.seeds };
    result.memoryAfterSyncMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    // the memory once the sync's garbage is given back: V8's memory reducer returns the freed pages to the system
    // about 8-12 s after the last full collection (--gc-memory-reducer-start-delay-ms, 8 s by default)
    await new Promise((r) => setTimeout(r, 30_000));
    result.memory30sAfterSyncMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    if (process.env.BENCH_SYNC_ONLY) {
      // comparing node flags or cache forms: the sync and the memory after it, nothing else
      clearInterval(sampler);
      console.log(JSON.stringify({ ...result, nodeFlags: process.env.BENCH_NODE_FLAGS ?? 'image', controllerArgs: process.env.BENCH_CONTROLLER_ARGS ?? '' }, null, 2));
      return;
    }

    // quiet minutes with a rollout baking on a small live landscape (the controller observes all 20,000 shoots)
    const bake = 'sbake';
    await deleteLandscape(client, bake);
    const sim = await liveLandscape(client, { prefix: bake, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: HALT_SEEDS, projects: 1, shootsPerSeed: 8, gardenerVersion: 'v1.149.0' }, { tickMs: 1000 });
    await client.create(
      RESOURCES.canaryRollouts,
      labelled(gardenletRollout(`${bake}-r`, bake, 'v1.150.0', { waves: [{ name: 'canary', seedNames: [`${bake}-aws-eu-1-0`], bake: '1h', healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }], healthGate: { minSampleSize: 3 }, progressDeadline: '2h' })),
    );
    await until(async () => ((await client.get(RESOURCES.canaryRollouts, CanaryRollout, `${bake}-r`)).status?.waves?.[0]?.phase === 'Baking' ? true : undefined), 300_000, 500);
    await new Promise((r) => setTimeout(r, 15_000)); // the canary's last shoot reconciles settle
    const c0 = await counters(ctl.port);
    await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
    const c1 = await counters(ctl.port);
    result.quietBake = { seconds: QUIET_SECONDS, reconciles: c1.reconciles - c0.reconciles, writes: c1.writes - c0.writes, requestsByVerb: verbDelta(c0, c1) };
    result.memoryWhileBakingMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    await deleteRollouts(client, [`${bake}-r`], 60_000);
    await sim.stop();
    await deleteLandscape(client, bake);

    phase = 'gardenletHalts';
    const gardenlet = await haltRuns(client, kc, 'sh', {
      live: () => ({ faults: { faultyVersion: 'v1.150.9', unhealthyRatio: 1 } }),
      rollout: (name, p, canary) =>
        gardenletRollout(name, p, 'v1.150.9', { waves: [{ name: 'canary', seedNames: [canary], bake: '1h', healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }], healthGate: { minSampleSize: 3 }, progressDeadline: '1h' }),
      exposure: async () => ({ kind: 'gardenlet', version: 'v1.150.9' }),
      stopped: (annotated, canary) => annotated.has(canary),
    });
    const median = (xs: number[]) => quantile(xs, 0.5);
    result.haltLatencyMs = { ...summary(gardenlet.latencies), fromCrossingWrite: summary(gardenlet.sinceCrossing), floorMedian: Math.round(median(gardenlet.floors)), ratioToFloor: +(median(gardenlet.latencies) / median(gardenlet.floors)).toFixed(2), all: gardenlet.latencies };

    phase = 'extensionHalts';
    const ext = (p: string) => `${p}-ext`;
    const extension = await haltRuns(client, kc, 'sx', {
      live: (p) => ({ extensions: { registrations: [ext(p)] }, faults: { faultyVersion: 'v2.0.9', unhealthyRatio: 1 } }),
      before: async (p) => {
        await deleteExtension(client, ext(p));
        // secondary, deployed to this landscape's seeds only: the big landscape's seeds do not run it
        await ensureExtension(client, { name: ext(p), type: ext(p), primary: false, policy: 'Always', version: 'v2.0.0', seedSelector: { matchLabels: { [LABEL_LANDSCAPE]: p } } });
      },
      ready: (p) => until(async () => ((await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter((ci) => ci.spec.registrationRef.name === ext(p)).length === HALT_SEEDS ? true : undefined), 60_000, 500),
      rollout: (name, p, canary) =>
        extensionRollout(
          name,
          p,
          ext(p),
          'v2.0.9',
          {
            waves: [{ name: 'canary', seedNames: [canary], bake: '1h', healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 } }, { name: 'rest', percent: 100 }],
            healthGate: { minSampleSize: 3 },
            progressDeadline: '1h',
            shootReconciliation: { trigger: true, maxPerMinute: 600 },
          },
          { strategy: 'ReconcileGate' },
        ),
      // as the extension adapter's exposure (src/engine/targets/extension.ts): released at the later of the seed's release and its installation's Installed transition
      exposure: async (p, name, canary) => {
        const releasedAt = (await client.get(RESOURCES.canaryRollouts, CanaryRollout, name)).status?.waves?.[0]?.seeds?.find((x) => x.name === canary)?.promotedAt ?? '';
        const ci = (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).find((c) => c.spec.registrationRef.name === ext(p) && c.spec.seedRef?.name === canary);
        const installed = ci?.status?.conditions?.find((c) => c.type === 'Installed');
        const installedAt = installed?.lastTransitionTime ?? installed?.lastUpdateTime;
        return { kind: 'extension', releasedAt: exposedSince(releasedAt, { ready: true, atRevision: true, ...(installedAt ? { installedAt } : {}) }) };
      },
      stopped: (annotated) => annotated.size === HALT_SEEDS,
      after: (p) => deleteExtension(client, ext(p)),
    });
    result.extensionHaltLatencyMs = {
      ...summary(extension.latencies),
      floorMedian: Math.round(median(extension.floors)),
      all: extension.latencies,
      // from the first unhealthy write the gate can count (the others precede the canary's exposure, to the second)
      fromCrossingWrite: summary(extension.sinceCrossing),
    };
    result.memoryAtEndMiB = { rss: procMiB(ctl.pid, 'VmRSS'), peak: procMiB(ctl.pid, 'VmHWM') };
    clearInterval(sampler);
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await ctl?.stop();
    stopBeats();
    await client.delete(RESOURCES.canaryRollouts, 'scale-floor');
    if (!process.env.BENCH_KEEP) await deleteLandscape(client, BIG, 64);
    kc.close();
    await garden.stop();
  }
}
