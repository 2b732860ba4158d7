// Benchmark: create a landscape of 100 seeds and 5,000 shoots with status through the real garden API, then
// report creation time per phase, request throughput and the garden's peak memory (VmHWM of each process).
//   npm run bench                       # starts its own test garden
//   GARDEN_KUBECONFIG=... npm run bench  # uses an existing garden (memory is then not reported)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { planLandscape, type LandscapeSpec } from '../../src/sim/landscape-plan.js';

interface GardenHandle {
  kubeconfig: string;
  pids: number[];
  startupMs: number;
  stop: () => Promise<unknown>;
}

function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.split('/').pop()!;
  } catch {
    return String(pid);
  }
}

export async function run(): Promise<void> {
  const seeds = Number(process.env.BENCH_SEEDS ?? 100);
  const shootsPerSeed = Number(process.env.BENCH_SHOOTS_PER_SEED ?? 50);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
  let garden: GardenHandle | undefined;
  let kubeconfig = process.env.GARDEN_KUBECONFIG;
  if (!kubeconfig) {
    const mod = pathToFileURL(join(process.cwd(), 'test', 'garden', 'garden.mjs')).href;
    const { startGarden } = (await import(mod)) as { startGarden: () => Promise<GardenHandle> };
    garden = await startGarden();
    kubeconfig = garden.kubeconfig;
  }
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  // 5 providers x 4 regions x (seeds/20) seeds per region; 10% managed seeds.
  const providers = ['aws', 'gcp', 'azure', 'openstack', 'alicloud'].map((type) => ({ type, regions: ['r1', 'r2', 'r3', 'r4'] }));
  const spec: LandscapeSpec = {
    prefix: 'bench',
    providers,
    seedsPerRegion: Math.max(1, Math.round(seeds / 20)),
    managedSeeds: Math.round(seeds / 10),
    projects: 50,
    shootsPerSeed,
    hibernateEvery: 10,
    unhealthyEvery: 50,
    gardenerVersion: 'v1.149.0',
    concurrency,
  };
  const plan = planLandscape(spec);
  try {
    await deleteLandscape(client, spec.prefix);
    const started = performance.now();
    const { timings } = await createLandscape(client, spec);
    const totalMs = performance.now() - started;
    // Requests: 2 per seed (create + status), 1 per Gardenlet/ManagedSeed, 2 per shoot, ~4 per project.
    const requests = plan.seeds.length * 3 + plan.shoots.length * 2 + plan.projects.length * 5;
    const result = {
      benchmark: 'landscape-create',
      seeds: plan.seeds.length,
      managedSeeds: plan.seeds.filter((s) => s.parent).length,
      shoots: plan.shoots.length,
      concurrency,
      totalSeconds: +(totalMs / 1000).toFixed(1),
      phasesMs: timings,
      shootsPerSecond: Math.round(plan.shoots.length / ((timings.shoots ?? totalMs) / 1000)),
      approxRequestsPerSecond: Math.round(requests / (totalMs / 1000)),
      gardenStartupSeconds: garden ? +(garden.startupMs / 1000).toFixed(1) : undefined,
      gardenPeakRssMiB: garden ? Object.fromEntries(garden.pids.map((p) => [commandName(p), peakRssMiB(p)])) : undefined,
    };
    console.log(JSON.stringify(result, null, 2));
    const cleanup = performance.now();
    await deleteLandscape(client, spec.prefix);
    console.log(JSON.stringify({ benchmark: 'landscape-delete', seconds: +((performance.now() - cleanup) / 1000).toFixed(1) }));
  } finally {
    client.kubeConfig.close();
    await garden?.stop();
  }
}
