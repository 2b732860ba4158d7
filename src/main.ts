// The controller's entry point (dist/bundle/main.js, what the image runs): the controller against the garden of
// --kubeconfig, $KUBECONFIG or the pod's service account. `npm start` reaches it through src/start.ts; the demo has
// its own entry (src/demo/main.ts), so nothing of the demo or the simulator is in this bundle.
import { KubeClient, loadKubeConfig } from './kube/client.js';
import { createLogger } from './util/log.js';
import { ensureCanaryRolloutCRD } from './kube/install-crd.js';
import { loadConfigOrExit, startManagerProcess } from './controller/lifecycle.js';
import { Manager } from './controller/manager.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.logLevel }).with({ component: 'canary-rollout-controller' });
  const kc = loadKubeConfig(config.kubeconfig, log);
  kc.requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const client = new KubeClient(kc);
  if (config.installCRD) await ensureCanaryRolloutCRD(client);
  const manager = new Manager(kc, config, log);
  await startManagerProcess(manager, log);
  log.info('controller running', { metricsPort: manager.port });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
