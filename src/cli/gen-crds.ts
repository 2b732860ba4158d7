// npm run crds: writes the CanaryRollout CRD generated from the zod schemas to crds/ (or the directory given).
// test/unit/crd-drift.test.ts fails when the committed file differs from what this produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderCRDs, CRD_FILE } from '../api/crd-file.js';

const { positionals } = parseArgs({ options: {}, allowPositionals: true, strict: true });
if (positionals.length > 1) {
  process.stderr.write(`usage: gen-crds [DIR] (default crds), got: ${positionals.join(' ')}\n`);
  process.exitCode = 2;
} else {
  const out = join(positionals[0] ?? 'crds', CRD_FILE);
  writeFileSync(out, renderCRDs());
  process.stdout.write(`wrote ${out}\n`);
}
