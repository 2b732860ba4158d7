// npm run crds: writes the CanaryRollout CRD generated from the zod schemas to crds/.
// test/unit/crd-drift.test.ts fails when the committed file differs from what this produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCRDs, CRD_FILE } from '../api/crd-file.js';

const out = join(process.argv[2] ?? 'crds', CRD_FILE);
writeFileSync(out, renderCRDs());
process.stdout.write(`wrote ${out}\n`);
