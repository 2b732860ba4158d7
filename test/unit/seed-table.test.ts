// The per-seed state as machine version 3 persists it (src/engine/seed-table.ts): lossless whatever the state, and
// small; statuses of machine version 2 (an object per seed) are still read.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus, type Plan } from '../../src/api/v1alpha1.js';
import type { SeedState } from '../../src/engine/machine-context.js';
import { persistSnapshot, restoreContext, restoreSnapshot } from '../../src/engine/persisted.js';
import { decodeSeedTable, encodeSeedTable } from '../../src/engine/seed-table.js';
import { rng } from '../../src/sim/world.js';

const EPOCH = '2026-03-04T05:06:07.890Z';
const at = (ms: number) => new Date(Date.parse(EPOCH) + ms).toISOString();

function plan(waves: string[][]): Plan {
  return { computedAt: EPOCH, seeds: waves.flat().length, shoots: 0, waves: waves.map((seeds, i) => ({ name: `w${i}`, shoots: 0, seeds: seeds.map((name) => ({ name })) })) };
}

/** Random but valid per-seed states for the seeds of `p`, as the machine writes them. */
function randomSeeds(p: Plan, r: () => number): Record<string, SeedState> {
  const refs = [{ ref: 'registry.example.com/gardenlet:v1.149.0' }, { repository: 'r.example.com/g', tag: 'v1.148.0', pullSecretRef: { name: 'pull' } }];
  const seeds: Record<string, SeedState> = {};
  p.waves.forEach((w, i) => {
    for (const s of w.seeds) {
      if (r() < 0.05) continue; // a planned seed without state
      const t = () => (r() < 0.5 ? at(Math.floor(r() * 3 * 86_400_000)) : undefined);
      const promotedAt = t();
      const ref = r() < 0.7 ? refs[Math.floor(r() * refs.length)] : undefined;
      const state: SeedState = {
        wave: i,
        root: r() < 0.1 ? w.seeds[0]!.name : s.name,
        ...(promotedAt ? { promotedAt, previousVersion: r() < 0.5 ? 'v1.149.0' : 'v1.148.0', ...(ref ? { previousRef: ref } : {}) } : {}),
      };
      for (const f of ['readyAt', 'notReadySince', 'revisionSince'] as const) {
        const v = t();
        if (v) state[f] = v;
      }
      if (r() < 0.1) state.vanished = true;
      seeds[s.name] = state;
    }
  });
  return seeds;
}

describe('the seed table', () => {
  it('gives back exactly the state it was given, over 200 random landscapes', () => {
    const r = rng(7);
    for (let run = 0; run < 200; run++) {
      const p = plan(Array.from({ length: 1 + Math.floor(r() * 4) }, (_, i) => Array.from({ length: Math.floor(r() * 12) }, (_, j) => `seed-${i}-${j}`)));
      const seeds = randomSeeds(p, r);
      const table = JSON.parse(JSON.stringify(encodeSeedTable(seeds, p))) as ReturnType<typeof encodeSeedTable>;
      expect(decodeSeedTable(table, p)).toEqual(seeds);
      // everything the engine wrote fits the rows: nothing is kept whole
      expect(table.other).toBeUndefined();
    }
  });

  it('keeps whole what the rows cannot carry: a foreign timestamp, a wave that is not the plan wave, a seed not planned, an unknown field', () => {
    const p = plan([['a', 'b'], ['c', 'd']]);
    const seeds: Record<string, SeedState> = {
      a: { wave: 0, root: 'a', promotedAt: '2026-03-04T05:06:07Z' }, // not the toISOString form
      b: { wave: 1, root: 'b' },
      c: { wave: 1, root: 'c', readyAt: at(5) },
      d: { wave: 1, root: 'd', ...({ future: 1 } as object) },
      x: { wave: 0, root: 'x', promotedAt: at(1) },
    };
    const table = encodeSeedTable(seeds, p);
    expect(Object.keys(table.other ?? {}).sort()).toEqual(['a', 'b', 'd', 'x']);
    expect(decodeSeedTable(JSON.parse(JSON.stringify(table)), p)).toEqual(seeds);
  });

  it('records each distinct previous version and chart once', () => {
    const names = Array.from({ length: 500 }, (_, i) => `s${i}`);
    const p = plan([names]);
    const ref = { ref: 'europe-docker.pkg.dev/gardener-project/releases/charts/gardener/gardenlet:v1.149.0' };
    const seeds = Object.fromEntries(names.map((n, i) => [n, { wave: 0, root: n, promotedAt: at(i * 1000), readyAt: at(i * 1000 + 60_000), previousVersion: 'v1.149.0', previousRef: ref }]));
    const table = encodeSeedTable(seeds, p);
    expect(table.previous).toEqual([{ version: 'v1.149.0', ref }]);
    // a promoted and ready seed: two times and the index of its previous chart
    expect(JSON.stringify(table).length / names.length).toBeLessThan(30);
    expect(JSON.stringify(seeds).length / names.length).toBeGreaterThan(200);
  });
});

describe('machine version 3', () => {
  const spec = CanaryRolloutSpec.parse({ target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } }, waves: [{ name: 'w0', count: 2 }, { name: 'w1', percent: 100 }] });
  const p = plan([['a', 'b'], ['c']]);
  const seeds: Record<string, SeedState> = { a: { wave: 0, root: 'a', promotedAt: at(1), readyAt: at(2), previousVersion: 'v1.149.0' }, b: { wave: 0, root: 'a', promotedAt: at(1) }, c: { wave: 1, root: 'c' } };
  const context = { current: 0, waves: [{ name: 'w0', baseline: [] }, { name: 'w1', baseline: [] }], seeds, accepted: [], haltStops: ['a'] };

  it('reads a status that machine version 2 wrote (an object per seed), and writes it back as version 3', () => {
    const v2 = { phase: 'Progressing', plan: p, history: [], machine: { version: 2, state: { value: { progressing: 'promoting' }, context } } } as unknown as CanaryRolloutStatus;
    expect(restoreContext(spec, v2)!.ctx.seeds).toEqual(seeds);
    const v3 = { ...v2, machine: persistSnapshot(restoreSnapshot(spec, v2)) };
    expect(v3.machine.version).toBe(3);
    expect(v3.machine.state.context.seeds).toEqual(encodeSeedTable(seeds, p));
    expect(restoreContext(spec, JSON.parse(JSON.stringify(v3)))!.ctx).toEqual(restoreContext(spec, v2)!.ctx);
  });
});
