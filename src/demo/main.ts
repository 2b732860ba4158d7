// Entry point of the local demo (dist/bundle/demo.js; `npm start` without a garden, or `npm start -- --demo`): a
// garden built from Go modules on first use, a landscape, the simulator, the controller and a rollout that halts;
// `--until-done` runs it without a human. The controller's own entry (src/main.ts) contains none of this.
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

async function main(): Promise<number> {
  let values: { 'until-done'?: boolean; 'garden-kubeconfig'?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { demo: { type: 'boolean' }, 'until-done': { type: 'boolean' }, 'garden-kubeconfig': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}; the demo takes --until-done and --garden-kubeconfig PATH (set KUBECONFIG to run the controller)`);
    return 2;
  }
  return runDemo({ untilDone: values['until-done'] ?? false, gardenKubeconfig: values['garden-kubeconfig'] });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
