// autoPick's exposure rule (top of src/engine/planner.ts) on plain data: each landscape is small enough that the
// expected pick follows from the rule by hand; the comments give the arithmetic.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutSpecInput } from '../../src/api/v1alpha1.js';
import type { Shoot } from '../../src/gardener/api.js';
import { observeShoots, planRollout, productionShoots, type ObservedSeed, type ObservedShoot } from '../../src/engine/planner.js';

const NOW = new Date('2026-11-23T12:00:00Z');
type AutoPickInput = NonNullable<CanaryRolloutSpecInput['waves'][number]['autoPick']>;

const seed = (name: string, parent?: string): ObservedSeed => {
  const [provider, region] = name.split('-') as [string, string];
  return { name, provider, region, labels: {}, deleting: false, ...(parent ? { parent } : {}) };
};
const shoots = (on: string, n: number, purpose: string, extra: Partial<ObservedShoot> = {}): ObservedShoot[] => Array.from({ length: n }, () => ({ seed: on, purpose, ...extra }));

// aws/eu: a busy production seed (30 production), two small low-risk seeds (4 evaluation; 5 testing) and a mixed
// one (1 production, 5 development). gcp/us: 3 development shoots, or 12 production.
const SEEDS = ['aws-eu-busy', 'aws-eu-eval1', 'aws-eu-eval2', 'aws-eu-mixed', 'gcp-us-a', 'gcp-us-b'].map((n) => seed(n));
const SHOOTS = [
  ...shoots('aws-eu-busy', 30, 'production'),
  ...shoots('aws-eu-eval1', 4, 'evaluation'),
  ...shoots('aws-eu-eval2', 5, 'testing'),
  ...shoots('aws-eu-mixed', 1, 'production'),
  ...shoots('aws-eu-mixed', 5, 'development'),
  ...shoots('gcp-us-a', 3, 'development'),
  ...shoots('gcp-us-b', 12, 'production'),
];

function plan(autoPick: AutoPickInput, minSampleSize: number, seeds = SEEDS, shootList = SHOOTS, extra: Partial<CanaryRolloutSpecInput> = {}) {
  const spec = CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [{ name: 'canary', autoPick, healthGate: { minSampleSize } }, { name: 'rest', percent: 100 }],
    ...extra,
  });
  const r = planRollout(spec, seeds, shootList, NOW);
  return { ...r, canary: r.plan.waves[0]!, names: r.plan.waves[0]!.seeds.map((s) => s.name) };
}

describe('autoPick: the least exposure that reaches the minimum sample', () => {
  it('takes small non-production seeds over the busy production one, one per group, and adds to reach the sample', () => {
    // coverage: aws/eu eval1 (0 production, 4 shoots; eval2 has 5), gcp/us a (0 production) -> 7 countable, 1 missing;
    // of the rest eval2 is the only one without production shoots -> 12 shoots, 12 countable >= 8
    const r = plan({}, 8);
    expect(r.names).toEqual(['aws-eu-eval1', 'aws-eu-eval2', 'gcp-us-a']);
    expect(r.canary).toMatchObject({ shoots: 12, productionShoots: 0, shootsByPurpose: { development: 3, evaluation: 4, testing: 5 } });
    expect(r.notes).toContain('wave canary: aws-eu-eval2 added to reach the minimum sample of 8 countable shoots');
    expect(r.notes).toContain('wave canary: autoPick exposes 12 shoots (0 production) for 12 countable shoots (minimum sample 8)');
    // the busiest seed of each group (what autoPick took before) is left to later waves
    expect(r.plan.waves[1]!.seeds.map((s) => s.name)).toEqual(expect.arrayContaining(['aws-eu-busy', 'gcp-us-b']));
  });

  it('covers every group even when the sample is reached without it, and takes nothing beyond coverage then', () => {
    const r = plan({}, 3);
    expect(r.names).toEqual(['aws-eu-eval1', 'gcp-us-a']);
    expect(r.notes.some((n) => n.includes('added to reach'))).toBe(false);
  });

  it('takes production shoots only when the low-risk ones cannot reach the sample, the fewest per shoot gained', () => {
    // low-risk shoots: 4 + 5 + 5 (mixed: 1 production of 6) + 3 = 18 < 20; coverage eval1 + a = 7; then eval2 (0
    // production) -> 12, then mixed (1 production per 6 gained beats busy's 30 per 8 and b's 12 per 8) -> 18, then
    // 2 missing: b (12 production per 2) beats busy (30 per 2) -> 30 countable. Dropping eval2 (5) or mixed (6)
    // would leave 25 or 24 >= 20; in drop order (most production first) b is needed (18 without it), mixed goes
    // (30 - 6 = 24), and then eval2 is needed (19 without it). The other way to 20 with b, mixed for eval2, is 13 production.
    const r = plan({}, 20);
    expect(r.names).toEqual(['aws-eu-eval1', 'aws-eu-eval2', 'gcp-us-a', 'gcp-us-b']);
    expect(r.canary).toMatchObject({ shoots: 24, productionShoots: 12 });
  });

  it('drops an added seed the sample turned out not to need', () => {
    // one group; coverage: c (1 shoot). 9 missing: x gains 4 for 4 shoots (1.0 per shoot) before y, 10 for 9
    // gained (1.11); then y reaches 15. Without x the wave still counts 11 >= 10: x is dropped.
    const seeds = ['aws-eu-c', 'aws-eu-x', 'aws-eu-y'].map((n) => seed(n));
    const r = plan({}, 10, seeds, [...shoots('aws-eu-c', 1, 'evaluation'), ...shoots('aws-eu-x', 4, 'evaluation'), ...shoots('aws-eu-y', 10, 'evaluation')]);
    expect(r.names).toEqual(['aws-eu-c', 'aws-eu-y']);
    expect(r.canary.shoots).toBe(11);
  });

  it('prefers more low-risk shoots over fewer production ones, and one seed that closes the gap over several', () => {
    // coverage: c (1 shoot); 2 missing: p gains 2 with 2 production shoots, e gains 2 (of 5) with none -> e
    const seeds = ['aws-eu-c', 'aws-eu-e', 'aws-eu-p'].map((n) => seed(n));
    const list = [...shoots('aws-eu-c', 1, 'evaluation'), ...shoots('aws-eu-e', 5, 'evaluation'), ...shoots('aws-eu-p', 2, 'production')];
    expect(plan({}, 3, seeds, list).names).toEqual(['aws-eu-c', 'aws-eu-e']);
    // 5 missing: x (2), y (5) and z (3) all cost one shoot per shoot gained; y gains the most and closes the gap
    const more = ['aws-eu-c', 'aws-eu-x', 'aws-eu-y', 'aws-eu-z'].map((n) => seed(n));
    const list2 = [...shoots('aws-eu-c', 1, 'evaluation'), ...shoots('aws-eu-x', 2, 'testing'), ...shoots('aws-eu-y', 5, 'testing'), ...shoots('aws-eu-z', 3, 'testing')];
    expect(plan({}, 6, more, list2).names).toEqual(['aws-eu-c', 'aws-eu-y']);
  });

  it('never exposes more than maxShoots, and says so when the cap keeps the wave below its sample', () => {
    // cap 8, sample 8: coverage eval1 (4) and a (3) = 7; nothing else fits in the one shoot left -> 7 countable < 8
    const capped = plan({ maxShoots: 8 }, 8);
    expect(capped.names).toEqual(['aws-eu-eval1', 'gcp-us-a']);
    expect(capped.notes).toContain('wave canary: maxShoots 8 keeps it at 7 countable shoots, below its minimum sample of 8: it cannot pass; raise maxShoots or lower minSampleSize');
    // cap 3: no aws/eu seed fits (its smallest has 4 shoots); gcp/us a fits exactly
    const tight = plan({ maxShoots: 3 }, 8);
    expect(tight.names).toEqual(['gcp-us-a']);
    expect(tight.notes).toContain('wave canary: maxShoots 3 leaves aws/eu uncovered (its smallest seed, aws-eu-eval1, has 4 shoots)');
    // cap 12, sample 20: eval2 would fit (12) but nothing after it, so the wave stays at its coverage
    const short = plan({ maxShoots: 12 }, 20);
    expect(short.names).toEqual(['aws-eu-eval1', 'gcp-us-a']);
    expect(short.notes).toContain('wave canary: maxShoots 12 keeps it at 7 countable shoots, below its minimum sample of 20: it cannot pass; raise maxShoots or lower minSampleSize');
    // with room for eval2 the cap does not bind
    expect(plan({ maxShoots: 12 }, 8).names).toEqual(['aws-eu-eval1', 'aws-eu-eval2', 'gcp-us-a']);
    for (let cap = 1; cap <= 70; cap++) {
      for (const min of [1, 8, 20, 60]) expect(plan({ maxShoots: cap }, min).canary.shoots).toBeLessThanOrEqual(cap);
    }
  });

  it('keeps coverage only when the seeds in scope cannot reach the sample at all', () => {
    // 60 shoots in scope: a sample of 100 is out of reach, so adding seeds would expose them for nothing
    const r = plan({}, 100);
    expect(r.names).toEqual(['aws-eu-eval1', 'gcp-us-a']);
    expect(r.notes).toContain('wave canary: the seeds in scope have only 60 countable shoots, fewer than its minimum sample of 100: it keeps its coverage seeds and cannot pass; lower minSampleSize');
  });

  it('picks no seed without countable shoots for coverage while its group has one with, and still covers a group without', () => {
    const seeds = ['aws-eu-empty', 'aws-eu-asleep', 'aws-eu-some', 'gcp-us-empty'].map((n) => seed(n));
    const list = [...shoots('aws-eu-asleep', 2, 'evaluation', { hibernated: true }), ...shoots('aws-eu-some', 3, 'production')];
    const r = plan({}, 1, seeds, list);
    // empty and asleep expose no production shoot but give no evidence; some is the only seed with countable shoots
    expect(r.names).toEqual(['aws-eu-some', 'gcp-us-empty']);
    expect(r.notes).toContain('wave canary: no seed of gcp/us has countable shoots: covered by gcp-us-empty, which add nothing to the sample');
    // when the gate counts hibernated shoots, asleep gives evidence and has no production shoots
    const counted = plan({}, 1, seeds, list, { healthGate: { exclude: { hibernated: false } } });
    expect(counted.names).toEqual(['aws-eu-asleep', 'gcp-us-empty']);
  });

  it('counts a managed seed for its parent: the unit moves and is exposed together', () => {
    // gcp-us-a alone shows 3 development shoots, but its managed seed carries 6 production ones: 6 production for
    // the unit, more than gcp-us-c's 0
    const seeds = [seed('gcp-us-a'), seed('gcp-us-m', 'gcp-us-a'), seed('gcp-us-c')];
    const list = [...shoots('gcp-us-a', 3, 'development'), ...shoots('gcp-us-m', 6, 'production'), ...shoots('gcp-us-c', 5, 'testing')];
    expect(plan({}, 1, seeds, list).names).toEqual(['gcp-us-c']);
    // without c the unit is picked whole: parent and managed seed, 9 shoots, 6 production
    const whole = plan({}, 1, seeds.slice(0, 2), list);
    expect(whole.canary.seeds).toEqual([
      { name: 'gcp-us-a' },
      { name: 'gcp-us-m', managedBy: 'gcp-us-a' },
    ]);
    expect(whole.canary).toMatchObject({ shoots: 9, productionShoots: 6 });
  });

  it('honours seedsPerGroup and the coverage groups', () => {
    expect(plan({ seedsPerGroup: 2 }, 1).names).toEqual(['aws-eu-eval1', 'aws-eu-eval2', 'gcp-us-a', 'gcp-us-b']);
    const byRegion = plan({ coverage: 'Region' }, 1, [...SEEDS, seed('azure-eu-x')], [...SHOOTS, ...shoots('azure-eu-x', 1, 'evaluation')]);
    expect(byRegion.names).toEqual(['azure-eu-x', 'gcp-us-a']); // eu: azure-eu-x (1 shoot) beats aws-eu-eval1 (4)
  });

  it('is deterministic: ties end on the name, and the input order does not matter', () => {
    const seeds = ['aws-eu-b', 'aws-eu-a', 'aws-eu-c'].map((n) => seed(n));
    const list = ['aws-eu-a', 'aws-eu-b', 'aws-eu-c'].flatMap((n) => shoots(n, 3, 'evaluation'));
    expect(plan({}, 5, seeds, list).names).toEqual(['aws-eu-a', 'aws-eu-b']);
    const a = plan({}, 20);
    const b = plan({}, 20, [...SEEDS].reverse(), [...SHOOTS].reverse());
    expect(b.plan).toEqual(a.plan);
    expect(b.notes).toEqual(a.notes);
  });
});

describe('purposes', () => {
  it("reads a missing purpose as Gardener's default evaluation, and hibernation and deletion from the shoot", () => {
    const base = { metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' }, seedName: 'aws-eu-0' } } as Shoot;
    expect(observeShoots([base])).toEqual([{ seed: 'aws-eu-0', purpose: 'evaluation' }]);
    const asleep = { ...base, spec: { ...base.spec, purpose: 'production', hibernation: { enabled: true } }, metadata: { ...base.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } } as Shoot;
    expect(observeShoots([asleep])).toEqual([{ seed: 'aws-eu-0', purpose: 'production', hibernated: true, deleting: true }]);
  });

  it('counts production and infrastructure shoots as production', () => {
    expect(productionShoots({ development: 4, evaluation: 1, infrastructure: 2, production: 3, testing: 5 })).toBe(5);
    expect(productionShoots(undefined)).toBe(0);
  });
});
