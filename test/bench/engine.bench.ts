// Benchmark: the pure engine on a large landscape (300 seeds, 20,000 shoots): planning, and assessing every
// shoot's health/exposure into wave tallies. Reports medians over repeated runs. And the status size of a whole
// rollout over 3,000 seeds (issue 16's bound: 256 KiB), the largest status any step wrote, by part.
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import type { Shoot } from '../../src/gardener/api.js';
import { addVerdict, assessShoot, emptyTally, gatePolicy, type Tally } from '../../src/engine/health.js';
import { planRollout, type ObservedSeed, type ObservedShoot } from '../../src/engine/planner.js';
import { shootStatus } from '../../src/sim/status.js';
import { decide, type Decision } from '../../src/engine/decide.js';
import { convergeEffects, desiredGarden } from '../../src/engine/desired.js';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { World } from '../../src/sim/world.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function time(runs: number, fn: () => void): { medianMs: number; minMs: number } {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  return { medianMs: +median(t).toFixed(3), minMs: +Math.min(...t).toFixed(3) };
}

export async function run(): Promise<void> {
  const SEEDS = 300;
  const SHOOTS = 20_000;
  const providers = ['aws', 'gcp', 'azure', 'openstack', 'alicloud'];
  const seeds: ObservedSeed[] = Array.from({ length: SEEDS }, (_, i) => {
    const provider = providers[i % providers.length]!;
    const region = `r${Math.floor(i / providers.length) % 6}`;
    return { name: `seed-${i}`, provider, region, labels: { 'seed.gardener.cloud/provider': provider }, deleting: false, ...(i % 10 === 9 ? { parent: `seed-${i - 9}` } : {}) };
  });
  const observedShoots: ObservedShoot[] = Array.from({ length: SHOOTS }, (_, i) => ({ seed: `seed-${i % SEEDS}`, purpose: i % 3 ? 'production' : 'development' }));
  const spec = CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [{ name: 'canary', autoPick: {} }, { name: 'early', percent: 10 }, { name: 'mid', percent: 30 }, { name: 'rest', percent: 100 }],
  });
  const now = new Date('2026-11-23T12:00:00Z');
  const planner = time(50, () => planRollout(spec, seeds, observedShoots, now));

  const shoots: Shoot[] = Array.from({ length: SHOOTS }, (_, i) => ({
    metadata: { name: `s${i}`, namespace: `garden-p${i % 200}` },
    spec: { provider: { type: 'aws' }, seedName: `seed-${i % SEEDS}` },
    status: shootStatus({
      seedName: `seed-${i % SEEDS}`,
      gardenerVersion: i % 2 ? 'v1.150.0' : 'v1.149.0',
      health: i % 17 === 0 ? 'unhealthy' : 'healthy',
      hibernated: i % 10 === 0,
      now,
    }),
  })) as Shoot[];
  const baseline = new Set(['garden-p1/s1']);
  const exposure = { kind: 'gardenlet' as const, version: 'v1.150.0' };
  const policy = gatePolicy(spec.healthGate, 'gardenlet');
  const known = { baseline, accepted: new Set<string>() };
  const assess = time(30, () => {
    const tallies = new Map<string, Tally>();
    for (const s of shoots) {
      const seed = s.spec.seedName!;
      const t = tallies.get(seed) ?? emptyTally();
      addVerdict(t, assessShoot(s, exposure, policy, known));
      tallies.set(seed, t);
    }
  });

  // decide() mid-rollout: a simulated landscape of the same size, stepped until the second wave is under way
  const world = new World(1, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(), badSeedFailureRate: 0, noiseRate: 0.01, userErrorShare: 0.3 });
  for (const s of seeds) {
    world.addSeed({ name: s.name, provider: s.provider, region: s.region, labels: s.labels, ...(s.parent ? { parent: s.parent } : {}) });
  }
  for (let i = 0; i < SHOOTS; i++) {
    world.addShoot({ namespace: `garden-p${i % 200}`, name: `s${i}`, seed: `seed-${i % SEEDS}`, hibernated: i % 10 === 0, health: 'healthy', userError: false });
  }
  const wavesSpec = CanaryRolloutSpec.parse({ ...spec, waves: [{ name: 'canary', autoPick: {}, bake: '30m' }, { name: 'early', percent: 10, bake: '30m' }, { name: 'rest', percent: 100 }] });
  const { status } = stepRollout(world, wavesSpec, {
    maxSteps: 200,
    done: (s) => s.phase === 'Progressing' && (s.currentWave ?? 0) >= 1,
    advanceMs: (d) => (d.requeueAfterMs === 0 ? 1000 : 10 * 60_000),
  });
  const observation = world.observation();
  const objects = world.objects();
  const { observe } = await import('../../src/engine/evaluate.js');
  const observeTime = time(20, () => observe(objects.seeds, objects.managedSeeds, objects.shoots));
  const decideTime = time(20, () => decide({ spec: wavesSpec, generation: 1, status, observation, now: new Date(world.now) }));
  const desiredTime = time(20, () => convergeEffects(desiredGarden(wavesSpec, status, observation)));
  const statusBytes = JSON.stringify(status).length;
  console.log(
    JSON.stringify(
      {
        benchmark: 'engine',
        seeds: SEEDS,
        shoots: SHOOTS,
        planRollout: planner,
        assessAndTallyAllShoots: assess,
        observe: observeTime,
        decide: { ...decideTime, atPhase: status?.phase, atWave: status?.currentWave, statusBytes },
        desired: desiredTime,
        statusAtScale: statusAtScale(3000),
      },
      null,
      2,
    ),
  );
}

/**
 * A gardenlet rollout over `seeds` seeds of realistic names (10% managed), stepped from start to Succeeded on the
 * simulated landscape: the largest status JSON any step wrote, and its parts.
 */
function statusAtScale(seeds: number): Record<string, unknown> {
  const providers = ['aws', 'gcp', 'azure', 'openstack', 'alicloud'];
  const regions = ['eu-west-1', 'us-east-1', 'ap-south-1', 'eu-central-1', 'us-west-2', 'ap-northeast-1'];
  const name = (i: number) => `${providers[i % 5]}-${regions[Math.floor(i / 5) % 6]}-${i}`;
  const world = new World(1, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(), badSeedFailureRate: 0, noiseRate: 0.01, userErrorShare: 0.3 });
  for (let i = 0; i < seeds; i++) {
    const provider = providers[i % 5]!;
    world.addSeed({ name: name(i), provider, region: regions[Math.floor(i / 5) % 6]!, labels: { 'seed.gardener.cloud/provider': provider }, ...(i % 10 === 9 ? { parent: name(i - 9) } : {}) });
  }
  // the status does not grow with shoots (beyond unhealthy baselines): two a seed keep the run short
  for (let i = 0; i < seeds * 2; i++) world.addShoot({ namespace: `garden-p${i % 200}`, name: `s${i}`, seed: name(i % seeds), hibernated: i % 10 === 0, health: 'healthy', userError: false });
  const spec = CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'europe-docker.pkg.dev/gardener-project/releases/charts/gardener/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [{ name: 'canary', autoPick: {}, bake: '30m' }, { name: 'early', percent: 10, bake: '30m' }, { name: 'mid', percent: 30, bake: '30m' }, { name: 'rest', percent: 100 }],
  });
  let largest: CanaryRolloutStatus | undefined;
  let largestBytes = 0;
  const { status, steps } = stepRollout(world, spec, {
    maxSteps: 2000,
    done: (s) => s.phase === 'Succeeded',
    advanceMs: (d) => (d.requeueAfterMs === 0 ? 1000 : Math.min(d.requeueAfterMs ?? 600_000, 600_000)),
    persisted: (s, bytes) => {
      if (bytes > largestBytes) [largest, largestBytes] = [s, bytes];
    },
  });
  const parts = Object.fromEntries(Object.entries(largest ?? {}).map(([k, v]) => [k, Buffer.byteLength(JSON.stringify(v))]).filter(([, n]) => Number(n) > 1000));
  return { seeds, phase: status?.phase, steps, largestStatusBytes: largestBytes, largestStatusKiB: +(largestBytes / 1024).toFixed(1), bytesPerSeed: Math.round(largestBytes / seeds), largestAt: largest?.phase, partsBytes: parts };
}

/**
 * Steps a rollout on the simulated landscape as the controller would (decide, persist as JSON, converge, advance the
 * clock) until `done` or `maxSteps`; `persisted` sees each status as written, with its size in bytes.
 */
function stepRollout(
  world: World,
  spec: CanaryRolloutSpec,
  opts: { maxSteps: number; done: (s: CanaryRolloutStatus) => boolean; advanceMs: (d: Decision) => number; persisted?: (s: CanaryRolloutStatus, bytes: number) => void },
): { status: CanaryRolloutStatus | undefined; steps: number } {
  let status: CanaryRolloutStatus | undefined;
  let steps = 0;
  for (; steps < opts.maxSteps && !(status && opts.done(status)); steps++) {
    const observation = world.observation();
    const d = decide({ spec, generation: 1, status, observation, now: new Date(world.now) });
    const text = JSON.stringify(d.status);
    status = JSON.parse(text) as CanaryRolloutStatus;
    opts.persisted?.(status, Buffer.byteLength(text));
    world.apply(convergeEffects(desiredGarden(spec, status, observation)));
    world.advance(opts.advanceMs(d));
  }
  return { status, steps };
}
