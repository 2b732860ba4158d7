export { CRDS, ensureCanaryRolloutCRD, readCRD } from '../../src/api/install.js';
