export { CRDS, ensureCanaryRolloutCRD, readCRD } from '../../src/kube/install-crd.js';
