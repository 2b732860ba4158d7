// Entry point of `npm start`.
// - With $KUBECONFIG (or --kubeconfig), or in a pod: runs the controller against that garden (the production main).
// - Without: starts a local demo garden (the test garden: etcd + kube-apiserver + gardener-apiserver, built from
//   Go modules on first use), creates a demo landscape in it and keeps it running until Ctrl-C.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Seed, Shoot } from './gardener/api.js';
import { KubeClient, loadKubeConfig, RESOURCES } from './kube/client.js';
import { createLandscape, type LandscapeSpec } from './sim/landscape.js';
import { createLogger, type Logger } from './util/log.js';
import { ensureCanaryRolloutCRD } from './api/install.js';
import { loadConfig, type Config } from './controller/config.js';
import { Manager } from './controller/manager.js';
import { LiveSimulator } from './sim/live.js';

const DEMO: LandscapeSpec = {
  prefix: 'demo',
  providers: [
    { type: 'aws', regions: ['eu-west-1', 'us-east-1'] },
    { type: 'gcp', regions: ['europe-west1', 'us-central1'] },
    { type: 'azure', regions: ['westeurope'] },
  ],
  seedsPerRegion: 2,
  managedSeeds: 2,
  projects: 4,
  shootsPerSeed: 10,
  hibernateEvery: 7,
  unhealthyEvery: 25,
  gardenerVersion: 'v1.149.0',
};

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

async function summarize(client: KubeClient, log: Logger): Promise<void> {
  const seeds = await client.list(RESOURCES.seeds, Seed);
  const shoots = await client.list(RESOURCES.shoots, Shoot);
  const versions: Record<string, number> = {};
  for (const s of seeds) {
    const v = s.status?.gardener?.version ?? 'unknown';
    versions[v] = (versions[v] ?? 0) + 1;
  }
  log.info('landscape observed', { seeds: seeds.length, shoots: shoots.length, gardenletVersions: versions });
}

async function runController(base: Logger): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
  const log = createLogger({ level: config.logLevel }).with({ component: 'canary-rollout-controller' });
  void base;
  const kc = loadKubeConfig(config.kubeconfig);
  const client = new KubeClient(kc);
  if (config.installCRD) await ensureCanaryRolloutCRD(client);
  const manager = new Manager(kc, config, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await manager.stop();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  manager.onLostLeadership = () => {
    log.info('lost leadership, exiting so that nothing stale is written');
    process.exit(1);
  };
  await manager.start();
  log.info('controller running', { metricsPort: manager.port });
}

async function main(): Promise<void> {
  const log = createLogger().with({ component: 'canary-rollout' });
  // in a pod (KUBERNETES_SERVICE_HOST) the controller runs in-cluster with its service account
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  if (inCluster || process.env.KUBECONFIG || process.argv.includes('--kubeconfig') || process.argv.some((a) => a.startsWith('--kubeconfig='))) {
    await runController(log);
    return;
  }

  log.info('no KUBECONFIG set: starting a local demo garden (first start builds it from Go modules, which takes a while)');
  const gardenModule = pathToFileURL(join(repoRoot(), 'test', 'garden', 'garden.mjs')).href;
  const { startGarden } = (await import(gardenModule)) as {
    startGarden: (o?: object) => Promise<{ kubeconfig: string; stop: () => Promise<unknown> }>;
  };
  const garden = await startGarden({ kubeconfig: join(repoRoot(), '.garden', 'kubeconfig') });
  const kc = loadKubeConfig(garden.kubeconfig);
  const client = new KubeClient(kc);
  let manager: Manager | undefined;
  let sim: LiveSimulator | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping the demo', { signal });
    await sim?.stop();
    await manager?.stop();
    client.kubeConfig.close();
    await garden.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  try {
    const { timings } = await createLandscape(client, DEMO);
    log.info('demo landscape created', { timingsMs: timings });
    await summarize(client, log);
    await ensureCanaryRolloutCRD(client);
    // the simulator plays gardenlets and shoots (one in ten shoots fails under v1.150.9, for a halt to watch)
    sim = new LiveSimulator(client, log.with({ component: 'landscape-simulator' }), {
      prefix: DEMO.prefix,
      tickMs: 1000,
      upgradeDelayMs: 3000,
      spreadMs: 20_000,
      faults: { faultyVersion: 'v1.150.9', unhealthyRatio: 0.1 },
    });
    sim.start();
    const config = loadConfig(['--metrics-port', '0'], {});
    manager = new Manager(loadKubeConfig(garden.kubeconfig), config, log.with({ component: 'canary-rollout-controller' }));
    await manager.start();
  } catch (err) {
    log.error('starting the demo failed', err);
    await stop('error');
  }
  log.info('demo running: the controller reconciles CanaryRollouts in the demo garden; Ctrl-C stops it', {
    kubeconfig: garden.kubeconfig,
    try: `export KUBECONFIG=${garden.kubeconfig}; kubectl apply -f examples/gardenlet-rollout.yaml; kubectl get cr -w`,
    metrics: `http://127.0.0.1:${manager?.port}/metrics`,
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
