// Entry point of `npm start`.
// - With $KUBECONFIG (or --kubeconfig), or in a pod: runs the controller against that garden (the production main).
// - Without (or with --demo): the local demo (src/demo.ts): a garden built from Go modules on first use, a landscape,
//   the simulator, the controller and a rollout that halts; `--until-done` runs it without a human.
import { KubeClient, loadKubeConfig } from './kube/client.js';
import { createLogger, type Logger } from './util/log.js';
import { runDemo } from './demo.js';
import { ensureCanaryRolloutCRD } from './kube/install-crd.js';
import { loadConfigOrExit, startManagerProcess } from './controller/lifecycle.js';
import { Manager } from './controller/manager.js';

async function runController(base: Logger): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel }).with({ component: 'canary-rollout-controller' });
  void base;
  const kc = loadKubeConfig(config.kubeconfig, log);
  kc.requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const client = new KubeClient(kc);
  if (config.installCRD) await ensureCanaryRolloutCRD(client);
  const manager = new Manager(kc, config, log);
  await startManagerProcess(manager, log);
  log.info('controller running', { metricsPort: manager.port });
}

async function main(): Promise<void> {
  const log = createLogger().with({ component: 'canary-rollout' });
  const argv = process.argv.slice(2);
  const demo = argv.includes('--demo');
  // in a pod (KUBERNETES_SERVICE_HOST) the controller runs in-cluster with its service account
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  if (!demo && (inCluster || process.env.KUBECONFIG || argv.includes('--kubeconfig') || argv.some((a) => a.startsWith('--kubeconfig=')))) {
    await runController(log);
    return;
  }
  const known = new Set(['--demo', '--until-done', '--garden-kubeconfig']);
  const bad = argv.filter((a, i) => a.startsWith('--') && !known.has(a) && argv[i - 1] !== '--garden-kubeconfig');
  if (bad.length) {
    console.error(`unknown demo flag ${bad.join(', ')}; the demo takes --until-done and --garden-kubeconfig PATH (set KUBECONFIG to run the controller)`);
    process.exit(2);
  }
  const gi = argv.indexOf('--garden-kubeconfig');
  const code = await runDemo({ untilDone: argv.includes('--until-done'), gardenKubeconfig: gi >= 0 ? argv[gi + 1] : undefined });
  process.exit(code);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
