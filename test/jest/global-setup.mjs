// Starts one test garden for the whole jest run, or uses an existing garden when GARDEN_KUBECONFIG points at
// one (e.g. a real gardener local setup). Tests read TEST_GARDEN_KUBECONFIG, never $KUBECONFIG, so a run can
// not wander into whatever cluster the developer's shell points at.
import { execFileSync } from 'node:child_process';
import { startGarden } from '../garden/garden.mjs';

export default async function globalSetup() {
  // end-to-end tests run the controller as its own process: the bundle the image runs (npm run bundle), and from
  // dist/ (src plus the test-only crash controller entry, in one compile) the crash controller and the kubectl plugin
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.test-entry.json'], { stdio: 'inherit' });
  execFileSync('npm', ['run', '--silent', 'bundle'], { stdio: 'inherit' });
  if (process.env.GARDEN_KUBECONFIG) {
    process.stderr.write(`\n[garden] using existing garden from GARDEN_KUBECONFIG=${process.env.GARDEN_KUBECONFIG}\n`);
    process.env.TEST_GARDEN_KUBECONFIG = process.env.GARDEN_KUBECONFIG;
    return;
  }
  process.stderr.write('\n');
  // TEST_GARDEN_CONTROLLERS: Gardener's controllers in the shared garden (gardenenv --controllers; default all)
  const garden = await startGarden({ controllers: process.env.TEST_GARDEN_CONTROLLERS || 'all' });
  process.env.TEST_GARDEN_KUBECONFIG = garden.kubeconfig;
  process.env.TEST_GARDEN_STARTUP_MS = String(garden.startupMs);
  process.env.TEST_GARDEN_PIDS = garden.pids.join(',');
  process.env.TEST_GARDEN_BIN_DIR = garden.binDir;
  globalThis.__CANARY_GARDEN__ = garden;
}
