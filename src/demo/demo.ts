// The local demo behind `npm start` without a KUBECONFIG: a real garden API (the test garden, built from Go
// modules and cached), a landscape of 12 seeds over 3 providers with 600 shoots, the landscape simulator, the
// controller, and a gardenlet rollout whose version is faulty everywhere but on the canary. The terminal shows the
// rollout live until the health gate halts it, then says what happened and how to look at it with kubectl canary.
// `--until-done` runs it without a human: after the halt it aborts (RevertAll), prints the final status and exits.
// Logs of the controller and the simulator go to .garden/demo.log, so the screen stays readable.
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureCanaryRolloutCRD } from '../kube/install-crd.js';
import { API_VERSION, CanaryRollout, FINAL_PHASES, KIND } from '../api/v1alpha1.js';
import { renderStatus } from '../cli/render.js';
import { loadConfig } from '../controller/config.js';
import { Manager } from '../controller/manager.js';
import { KubeClient, loadKubeConfig, RESOURCES, type KubeObject } from '../kube/client.js';
import { createLandscape } from '../sim/landscape-create.js';
import { deleteLandscape } from '../sim/landscape-delete.js';
import { gardenletChartRef } from '../sim/landscape-objects.js';
import { LABEL_LANDSCAPE, planLandscape, type LandscapeSpec } from '../sim/landscape-plan.js';
import { LiveSimulator } from '../sim/live.js';
import { deleteRollouts } from '../sim/scenario.js';
import { createLogger } from '../util/log.js';

export const DEMO: LandscapeSpec = {
  prefix: 'demo',
  providers: [
    { type: 'aws', regions: ['eu-west-1', 'us-east-1'] },
    { type: 'gcp', regions: ['europe-west1', 'us-central1'] },
    { type: 'azure', regions: ['westeurope', 'eastus'] },
  ],
  seedsPerRegion: 2,
  managedSeeds: 2,
  projects: 6,
  shootsPerSeed: 50,
  hibernateEvery: 9,
  unhealthyEvery: 40,
  gardenerVersion: 'v1.149.0',
};

const FAULTY = 'v1.150.9';
export const DEMO_ROLLOUT = 'demo-gardenlet-v1-150-9';

export interface DemoOptions {
  untilDone: boolean;
  /** Use this garden instead of starting one (tests); the demo then removes its landscape when it ends. */
  gardenKubeconfig?: string | undefined;
  out?: NodeJS.WriteStream;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

/** The rollout the demo applies: canary first (healthy there), then waves that meet the faulty seeds. */
export function demoRollout(canary: string): KubeObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: DEMO_ROLLOUT, labels: { [LABEL_LANDSCAPE]: DEMO.prefix } },
    spec: {
      target: { gardenlet: { ociRepository: { ref: gardenletChartRef(FAULTY) }, version: FAULTY } },
      seedSelector: { matchLabels: { [LABEL_LANDSCAPE]: DEMO.prefix } },
      waves: [
        { name: 'canary', seedNames: [canary], healthGate: { minSampleSize: 10 }, bake: '15s' },
        { name: 'early', percent: 40, maxConcurrentSeeds: 2 },
        { name: 'rest', percent: 100 },
      ],
      healthGate: { maxUnhealthyRatio: 0.05, maxOverallUnhealthyRatio: 0.05, minSampleSize: 15 },
      bake: '15s',
      progressDeadline: '10m',
      shootReconciliation: { trigger: true, maxPerMinute: 600 },
      onHalt: { emergencyStop: true, rollback: 'RevertAll' },
    },
  };
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  const root = repoRoot();
  mkdirSync(join(root, '.garden'), { recursive: true });
  const logFile = join(root, '.garden', 'demo.log');
  const log = createLogger({ write: (line) => appendFileSync(logFile, line + '\n') });

  say(opts.gardenKubeconfig ? `demo: using the garden at ${opts.gardenKubeconfig}` : 'demo: starting a local garden (etcd, kube-apiserver, gardener-apiserver); the first start builds it from Go modules, which takes a while');
  let garden: { kubeconfig: string; stop: () => Promise<unknown> } | undefined;
  let kubeconfig = opts.gardenKubeconfig;
  if (!kubeconfig) {
    // the test garden's launcher is loaded at run time by path: it builds Go code under test/ that no bundle holds
    const { startGarden } = (await import(pathToFileURL(join(root, 'test', 'garden', 'garden.mjs')).href)) as {
      startGarden: (o?: object) => Promise<{ kubeconfig: string; stop: () => Promise<unknown> }>;
    };
    garden = await startGarden({ kubeconfig: join(root, '.garden', 'kubeconfig') });
    kubeconfig = garden.kubeconfig;
  }
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  let sim: LiveSimulator | undefined;
  let manager: Manager | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (opts.gardenKubeconfig) {
        // a shared garden: leave it as we found it (the controller still runs, so the rollout's finalizer can; a
        // halted rollout's deletion waits for a confirmation, given here: the demo landscape goes too)
        await deleteRollouts(client, [DEMO_ROLLOUT], 20_000).catch(() => undefined);
      }
      await sim?.stop();
      await manager?.stop();
      if (opts.gardenKubeconfig) await deleteLandscape(client, DEMO.prefix).catch(() => undefined);
      client.kubeConfig.close();
      await garden?.stop();
    })());
  const interrupted = new Promise<number>((resolve) => {
    const onSignal = () => void stop().then(() => resolve(130));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  const run = async (): Promise<number> => {
    const plan = planLandscape(DEMO);
    say(`demo: creating a landscape of ${plan.seeds.length} seeds (${DEMO.managedSeeds} managed) over ${DEMO.providers.length} providers with ${plan.shoots.length} shoots, all at gardenlet ${DEMO.gardenerVersion}`);
    const { timings } = await createLandscape(client, DEMO);
    log.info('demo landscape created', { timingsMs: timings });
    await ensureCanaryRolloutCRD(client);
    const canary = plan.seeds.find((s) => !s.parent)?.name;
    if (!canary) throw new Error('the demo landscape has no seed of its own to be the canary');
    // the faulty version breaks a third of the shoots it reconciles, everywhere but on the canary
    sim = new LiveSimulator(client, log.with({ component: 'landscape-simulator' }), {
      prefix: DEMO.prefix,
      tickMs: 1000,
      upgradeDelayMs: 3000,
      spreadMs: 15_000,
      faults: { faultyVersion: FAULTY, unhealthyRatio: 0.35, faultySeeds: plan.seeds.filter((s) => s.name !== canary).map((s) => s.name) },
    });
    sim.start();
    manager = new Manager(loadKubeConfig(kubeconfig), loadConfig(['--metrics-port', '0', '--rollout-selector', `${LABEL_LANDSCAPE}=${DEMO.prefix}`, '--lease-name', 'canary-demo'], {}), log.with({ component: 'canary-rollout-controller' }));
    await manager.start();
    await client.create(RESOURCES.canaryRollouts, demoRollout(canary));
    say(`demo: rolling out gardenlet ${FAULTY} in 3 waves (canary ${canary}); controller and simulator logs: ${logFile}`);

    // live view until the rollout halts (or ends)
    const tty = out.isTTY === true;
    let last = '';
    let r: CanaryRollout | undefined;
    for (;;) {
      r = await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, DEMO_ROLLOUT);
      const phase = r?.status?.phase ?? 'Pending';
      if (r) {
        const frame = renderStatus(r).join('\n');
        const key = tty ? frame : `${phase} ${r.status?.waveProgress} ${r.status?.message}`;
        if (key !== last) {
          out.write(tty ? `\x1b[H\x1b[2J${frame}\n` : `${new Date().toISOString().slice(11, 19)} ${phase} ${r.status?.waveProgress ?? ''} ${r.status?.message ?? ''}\n`);
          last = key;
        }
      }
      if (phase === 'Halted' || FINAL_PHASES.has(phase)) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    say();
    if (r?.status?.phase === 'Halted') {
      const seeds = r.status.waves?.flatMap((w) => w.seeds ?? []) ?? [];
      const promoted = seeds.filter((s) => s.promotedAt).map((s) => s.name);
      say(`HALTED: ${r.status.message}`);
      say(`  ${promoted.length} of ${seeds.length} seeds were promoted to ${FAULTY}; no later wave was touched. The halted wave carries Gardener's`);
      say('  emergency stop (shoot.gardener.cloud/emergency-stop-reconciliations), so no further shoot reconciles there.');
      if (!opts.untilDone) {
        say();
        say('Try it (the demo keeps running until Ctrl-C):');
        say(`  export KUBECONFIG=${kubeconfig}`);
        say('  npm link               # puts kubectl-canary on the PATH');
        say(`  kubectl canary status ${DEMO_ROLLOUT}`);
        say(`  kubectl get cr -o wide; kubectl get seeds -L canary.gardener.cloud/wave`);
        say(`  kubectl canary abort ${DEMO_ROLLOUT} --reason "faulty gardenlet"   # RevertAll: back to ${DEMO.gardenerVersion}`);
        return await interrupted;
      }
      say('demo: aborting the rollout as an operator would (rollback RevertAll)');
      await client.patch(RESOURCES.canaryRollouts, DEMO_ROLLOUT, { metadata: { annotations: { 'canary.gardener.cloud/operation': 'abort', 'canary.gardener.cloud/reason': 'demo: faulty gardenlet' } } });
      for (;;) {
        r = await client.get(RESOURCES.canaryRollouts, CanaryRollout, DEMO_ROLLOUT);
        if (FINAL_PHASES.has(r.status?.phase ?? '')) break;
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    if (r) say(renderStatus(r).join('\n'));
    say();
    say(`demo: done, the rollout ended ${r?.status?.phase}`);
    return 0;
  };

  try {
    const code = await Promise.race([run(), interrupted]);
    await stop();
    return code;
  } catch (err) {
    say(`demo failed: ${err instanceof Error ? err.message : String(err)} (details in ${logFile})`);
    log.error('demo failed', err);
    await stop();
    return 1;
  }
}
