// The controller runs the same way everywhere it runs: the image (Dockerfile ENTRYPOINT), `npm start`, and the
// end-to-end tests and benchmarks (test/support/controller.ts) start the same bundle with the same node flags.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { IMAGE_NODE_FLAGS, MAIN_ENTRY, START_ENTRY } from '../support/controller.js';

describe('how the controller is run', () => {
  it('the image, npm start and the tests give node the same flags and the same bundle', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    expect(entrypoint).toBeDefined();
    expect(JSON.parse(entrypoint!)).toEqual(['/nodejs/bin/node', ...IMAGE_NODE_FLAGS, MAIN_ENTRY]);
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toBe(`npm run --silent build && node ${[...IMAGE_NODE_FLAGS, START_ENTRY].join(' ')}`);
    // npm start's entry loads the controller's bundle by its name beside it
    expect(readFileSync('src/start.ts', 'utf8')).toContain(`'./${MAIN_ENTRY.split('/').pop()}'`);
  });

  it('pins every base image by digest (a tag alone can be moved to other content)', () => {
    const from = readFileSync('Dockerfile', 'utf8')
      .split('\n')
      .filter((l) => /^FROM /i.test(l));
    expect(from.map((l) => l.split(/\s+/)[1]!.replace(/@sha256:[0-9a-f]{64}$/, '@<digest>'))).toEqual([
      'node:20-bookworm-slim@<digest>',
      'gcr.io/distroless/nodejs20-debian12:nonroot@<digest>',
    ]);
  });

  it("the image copies the controller's bundle, and only that, from where the bundle step writes it", () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const bundle = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.bundle;
    expect(bundle).toContain(`--outdir=${MAIN_ENTRY.replace(/\/[^/]+$/, '')}`);
    expect(bundle).toContain(`${MAIN_ENTRY.split('/').pop()!.replace(/\.js$/, '')}=src/main.ts`);
    expect(dockerfile.split('\n').filter((l) => l.startsWith('COPY --from=build'))).toEqual([`COPY --from=build /src/${MAIN_ENTRY} ./${MAIN_ENTRY}`]);
  });
});
