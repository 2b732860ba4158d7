// Entry point of `npm start` (dist/bundle/start.js): with $KUBECONFIG (or --kubeconfig), or in a pod, the
// controller (dist/bundle/main.js, what the image runs); otherwise, or with --demo, the local demo
// (dist/bundle/demo.js). Each is its own bundle beside this one, loaded by name at run time, so the controller's
// bundle contains neither the demo nor the simulator.
const argv = process.argv.slice(2);
// in a pod (KUBERNETES_SERVICE_HOST) the controller runs in-cluster with its service account
const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
const kubeconfig = !!process.env.KUBECONFIG || argv.some((a) => a === '--kubeconfig' || a.startsWith('--kubeconfig='));
const START_TARGETS = { controller: './main.js', demo: './demo.js' } as const;
const target = !argv.includes('--demo') && (inCluster || kubeconfig) ? START_TARGETS.controller : START_TARGETS.demo;
await import(target);
