import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutSpecInput } from '../../src/api/v1alpha1.js';
import { membershipChanges, observeShoots, planRollout, type ObservedSeed, type ObservedShoot } from '../../src/engine/planner.js';
import { matchesSelector } from '../../src/engine/selector.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const gardenletTarget = { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } };
const extensionTarget = { extension: { controllerDeployment: 'provider-aws', version: 'v1.62.0', helm: { ociRepository: { ref: 'r/aws:v1.62.0' } } } };

function seed(name: string, provider: string, region: string, extra: Partial<ObservedSeed> = {}): ObservedSeed {
  return { name, provider, region, labels: { 'seed.gardener.cloud/provider': provider, 'seed.gardener.cloud/region': region, ...extra.labels }, deleting: false, ...extra };
}

// 3 providers x 2 regions x 2 seeds; gcp-eu-1 is a managed seed on gcp-eu-0; shoots: 10 per seed, plus
// 5 extra on aws-us-1 (the busiest aws/us seed).
const SEEDS: ObservedSeed[] = [
  ...['aws', 'gcp', 'azure'].flatMap((p) => ['eu', 'us'].flatMap((r) => [0, 1].map((i) => seed(`${p}-${r}-${i}`, p, r)))),
].map((s) => (s.name === 'gcp-eu-1' ? { ...s, parent: 'gcp-eu-0' } : s));
const SHOOTS: ObservedShoot[] = SEEDS.flatMap((s) => Array.from({ length: s.name === 'aws-us-1' ? 15 : 10 }, (_, i) => ({ seed: s.name, purpose: i % 2 ? 'production' : 'development' })));

const spec = (input: Partial<CanaryRolloutSpecInput>) => CanaryRolloutSpec.parse({ target: gardenletTarget, waves: [{ name: 'all', percent: 100 }], ...input });
const names = (r: ReturnType<typeof planRollout>) => r.plan.waves.map((w) => w.seeds.map((s) => s.name));

describe('planRollout', () => {
  it('is deterministic and independent of input order', () => {
    const s = spec({ waves: [{ name: 'c', count: 3 }, { name: 'r', percent: 100 }] });
    const a = planRollout(s, SEEDS, SHOOTS, NOW);
    const b = planRollout(s, [...SEEDS].reverse(), [...SHOOTS].reverse(), NOW);
    expect(a).toEqual(b);
  });

  it('spreads count and percent waves across provider/region', () => {
    const r = planRollout(spec({ waves: [{ name: 'c', count: 3 }, { name: 'early', percent: 50 }, { name: 'rest', percent: 100 }] }), SEEDS, SHOOTS, NOW);
    expect(names(r)[0]).toEqual(['aws-eu-0', 'aws-us-0', 'azure-eu-0']);
    // 8 units remain (11 seeds, gcp-eu-1 rides with gcp-eu-0): 50% -> 4 units
    expect(r.plan.waves[1]!.seeds).toHaveLength(4);
    expect(r.plan.seeds).toBe(12);
    expect(r.plan.unplannedSeeds).toBeUndefined();
  });

  it('moves managed seeds with their parent and says so', () => {
    const r = planRollout(spec({ waves: [{ name: 'c', seedNames: ['gcp-eu-0'] }, { name: 'rest', percent: 100 }] }), SEEDS, SHOOTS, NOW);
    expect(r.plan.waves[0]!.seeds).toEqual([
      { name: 'gcp-eu-0' },
      { name: 'gcp-eu-1', managedBy: 'gcp-eu-0' },
    ]);
    expect(r.plan.waves[0]!.shoots).toBe(20);
    expect(r.notes).toContain('wave c: gcp-eu-1 follow gcp-eu-0 (managed seeds)');
    const named = planRollout(spec({ waves: [{ name: 'c', seedNames: ['gcp-eu-1'] }] }), SEEDS, SHOOTS, NOW);
    expect(named.plan.waves[0]!.seeds).toEqual([]);
    expect(named.notes).toContain('wave c: managed seed gcp-eu-1 follows its parent gcp-eu-0');
  });

  it('treats managed seeds as independent seeds for extension targets', () => {
    const r = planRollout(spec({ target: extensionTarget, waves: [{ name: 'c', seedNames: ['gcp-eu-1'] }] }), SEEDS, SHOOTS, NOW);
    expect(names(r)).toEqual([['gcp-eu-1']]);
    expect(r.plan.waves[0]!.seeds[0]!.managedBy).toBeUndefined();
  });

  it('autoPick covers every provider/region with its least exposed seed (more in autopick.test.ts)', () => {
    // aws/us: aws-us-0 (5 production) rather than the busier aws-us-1 (7); gcp/eu has one unit, gcp-eu-0 with its
    // managed seed. 70 countable shoots reach the default sample of 20.
    const r = planRollout(spec({ waves: [{ name: 'canary', autoPick: {} }, { name: 'rest', percent: 100 }] }), SEEDS, SHOOTS, NOW);
    expect(names(r)[0]).toEqual(['aws-eu-0', 'aws-us-0', 'azure-eu-0', 'azure-us-0', 'gcp-eu-0', 'gcp-eu-1', 'gcp-us-0']);
    expect(r.plan.waves[0]).toMatchObject({ shoots: 70, productionShoots: 35 });
    // per provider: gcp-us-0 (5 production) rather than the gcp-eu-0 unit (10)
    const byProvider = planRollout(spec({ waves: [{ name: 'canary', autoPick: { coverage: 'Provider' } }] }), SEEDS, SHOOTS, NOW);
    expect(names(byProvider)[0]).toEqual(['aws-eu-0', 'azure-eu-0', 'gcp-us-0']);
  });

  it('respects the scope and lists what no wave picks', () => {
    const r = planRollout(
      spec({ seedSelector: { matchLabels: { 'seed.gardener.cloud/provider': 'aws' } }, waves: [{ name: 'eu', seedSelector: { matchLabels: { 'seed.gardener.cloud/region': 'eu' } } }] }),
      SEEDS,
      SHOOTS,
      NOW,
    );
    expect(names(r)).toEqual([['aws-eu-0', 'aws-eu-1']]);
    expect(r.plan.unplannedSeeds).toEqual(['aws-us-0', 'aws-us-1']);
    expect(r.plan.shoots).toBe(20);
  });

  it('counts shoots per wave and by purpose', () => {
    const r = planRollout(spec({ waves: [{ name: 'one', seedNames: ['aws-us-1'] }] }), SEEDS, SHOOTS, NOW);
    expect(r.plan.waves[0]).toMatchObject({ shoots: 15, shootsByPurpose: { development: 8, production: 7 } });
  });

  it('never plans a seed twice, nor one being deleted, and notes empty waves and unknown names', () => {
    const seeds = SEEDS.map((s) => (s.name === 'azure-us-1' ? { ...s, deleting: true } : s));
    const r = planRollout(spec({ waves: [{ name: 'a', seedNames: ['aws-eu-0', 'nope'] }, { name: 'b', seedNames: ['aws-eu-0'] }, { name: 'rest', percent: 100 }] }), seeds, SHOOTS, NOW);
    const all = r.plan.waves.flatMap((w) => w.seeds.map((s) => s.name));
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain('azure-us-1');
    expect(r.notes).toEqual(expect.arrayContaining(['wave a: seed nope is not in scope or does not exist', 'wave b: seed aws-eu-0 is already planned in an earlier wave', 'wave b (2) selects no seeds']));
  });

  it('keeps managed seeds whose parent is out of scope out of the plan', () => {
    const r = planRollout(spec({ seedSelector: { matchExpressions: [{ key: 'seed.gardener.cloud/provider', operator: 'In', values: ['gcp'] }, { key: 'x', operator: 'DoesNotExist' }] } }), SEEDS.map((s) => (s.name === 'gcp-eu-0' ? { ...s, labels: { ...s.labels, x: '1' } } : s)), SHOOTS, NOW);
    expect(names(r)).toEqual([['gcp-us-0', 'gcp-us-1']]);
    expect(r.plan.unplannedSeeds).toEqual(['gcp-eu-1']);
  });
});

describe('membershipChanges', () => {
  it('reports planned seeds that vanished and in-scope seeds that appeared', () => {
    const s = spec({ waves: [{ name: 'c', count: 2 }, { name: 'rest', percent: 100 }] });
    const { plan } = planRollout(s, SEEDS, SHOOTS, NOW);
    const later = [...SEEDS.filter((x) => x.name !== 'aws-eu-0').map((x) => (x.name === SEEDS[3]!.name ? { ...x, deleting: true } : x)), seed('aws-eu-9', 'aws', 'eu')];
    expect(membershipChanges(plan, s, later)).toEqual({ vanished: ['aws-eu-0', SEEDS[3]!.name].sort(), appeared: ['aws-eu-9'] });
  });
});

describe('matchesSelector', () => {
  const l = { a: '1', b: '2' };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { a: '1' } }, true],
    [{ matchLabels: { a: '2' } }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In' as const, values: ['1', '3'] }] }, true],
    [{ matchExpressions: [{ key: 'c', operator: 'In' as const, values: ['1'] }] }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] }, false],
    [{ matchExpressions: [{ key: 'c', operator: 'NotIn' as const, values: ['1'] }] }, true],
    [{ matchExpressions: [{ key: 'b', operator: 'Exists' as const }] }, true],
    [{ matchExpressions: [{ key: 'b', operator: 'DoesNotExist' as const }] }, false],
  ])('%j -> %s', (sel, want) => expect(matchesSelector(l, sel)).toBe(want));
});

describe('shoots confined to their maintenance window', () => {
  const two = [seed('aws-eu-0', 'aws', 'eu'), seed('gcp-eu-0', 'gcp', 'eu')];
  const shoots: ObservedShoot[] = [
    { seed: 'aws-eu-0', purpose: 'production', confined: true },
    { seed: 'aws-eu-0', purpose: 'production', confined: true, hibernated: true }, // not reconciled anyway
    { seed: 'aws-eu-0', purpose: 'evaluation' },
    { seed: 'gcp-eu-0', purpose: 'evaluation', confined: true, deleting: true },
    { seed: 'gcp-eu-0', purpose: 'evaluation' },
  ];
  const waves = [
    { name: 'aws', seedNames: ['aws-eu-0'] },
    { name: 'gcp', seedNames: ['gcp-eu-0'] },
  ];
  const counts = (shootReconciliation: Record<string, unknown>) => planRollout(spec({ waves, shootReconciliation }), two, shoots, NOW).plan.waves.map((w) => w.shootsConfinedToMaintenance);

  it('counts per wave the shoots left to wait for their window; absent where there are none', () => {
    expect(counts({ trigger: true })).toEqual([1, undefined]);
    expect(counts({})).toEqual([1, undefined]); // without triggers they wait for their window as well
    expect(counts({ trigger: true, includeConfinedToMaintenance: true })).toEqual([undefined, undefined]);
  });

  it('reads confinement from the Shoot (spec.maintenance.confineSpecUpdateRollout)', () => {
    const shoot = (confine?: boolean) => ({ metadata: { name: 's' }, spec: { provider: { type: 'aws' }, seedName: 'a', ...(confine === undefined ? {} : { maintenance: { confineSpecUpdateRollout: confine } }) } });
    expect(observeShoots([shoot(true), shoot(false), shoot()]).map((s) => s.confined)).toEqual([true, undefined, undefined]);
  });
});
