// The layers of src/ (eslint.config.mjs) hold: lint refuses an import across a layer, and the controller's bundle
// (what the image runs) contains neither the demo, the simulator, the CLI nor anything of test/.
import { describe, expect, it } from '@jest/globals';
import { build } from 'esbuild';
import { ESLint } from 'eslint';

const eslint = new ESLint();

/** The no-restricted-imports messages lint gives `source` placed at `filePath`. */
async function layerErrors(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layers', () => {
  it.each([
    ['src/engine/x.ts', "import * as k8s from '@kubernetes/client-node';\nexport const a = k8s;\n", 'api/, gardener/ and engine/ are pure'],
    ['src/api/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n", 'api/, gardener/ and engine/ are pure'],
    ['src/engine/x.ts', "import { KubeClient } from '../kube/client.js';\nexport const a = KubeClient;\n", 'import nothing above them'],
    ['src/gardener/x.ts', "import { Manager } from '../controller/manager.js';\nexport const a = Manager;\n", 'import nothing above them'],
    ['src/controller/x.ts', "import { LiveSimulator } from '../sim/live.js';\nexport const a = LiveSimulator;\n", 'neither the simulator, the demo nor the CLI'],
    ['src/main.ts', "import { runDemo } from './demo/demo.js';\nexport const a = runDemo;\n", 'neither the simulator, the demo nor the CLI'],
    ['src/cli/x.ts', "import { Manager } from '../controller/manager.js';\nexport const a = Manager;\n", "never to the controller's internals"],
    ['src/kube/x.ts', "import { until } from '../../test/bench/until.js';\nexport const a = until;\n", 'src/ never imports test/'],
  ])('%s may not %s', async (file, source, message) => {
    const errors = await layerErrors(file, source);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it('allows what a layer may import', async () => {
    expect(await layerErrors('src/engine/x.ts', "import { CanaryRollout } from '../api/v1alpha1.js';\nimport { createHash } from 'node:crypto';\nexport const a = [CanaryRollout, createHash];\n")).toEqual([]);
    expect(await layerErrors('src/controller/x.ts', "import * as k8s from '@kubernetes/client-node';\nimport { decide } from '../engine/decide.js';\nexport const a = [k8s, decide];\n")).toEqual([]);
  });

  it("the controller's bundle contains no demo, simulator, CLI or test code", async () => {
    const { metafile } = await build({ entryPoints: ['src/main.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, metafile: true, logLevel: 'silent' });
    const ours = Object.keys(metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
    expect(ours.filter((f) => f.startsWith('src/engine/')).length).toBeGreaterThan(5); // the bundle is the controller's
    expect(ours.filter((f) => /^(src\/(sim|demo|cli)\/|test\/)/.test(f))).toEqual([]);
  });
});
