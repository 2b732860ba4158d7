// The committed form of the generated CRD: YAML with a header that says where it comes from.
import yaml from 'js-yaml';
import { canaryRolloutCRD } from './crd.js';
import { GROUP, PLURAL } from './v1alpha1.js';

export const CRD_FILE = `${GROUP}_${PLURAL}.yaml`;

export function renderCRDs(): string {
  return `# Generated from src/api/v1alpha1.ts by \`npm run crds\`. Do not edit by hand.\n---\n${yaml.dump(canaryRolloutCRD(), { lineWidth: -1, noRefs: true })}`;
}
