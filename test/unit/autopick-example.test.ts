// autoPick's canary on the two example landscapes of the project, against the busiest-seed rule it had before.
// 1. examples/gardenlet-rollout.yaml on exposureLandscape (src/sim/scenario.ts): in each of the 6 provider/regions a
//    busy production seed (90 shoots, 50 production), a mixed one (50, 10) and a small one with evaluation and
//    testing shoots only (20). The busiest seeds were 6 x 90 = 540 of the 960 shoots, 300 of them production; the
//    canary needs a sample of 10.
// 2. The GEP draft's extension example (autoPick coverage Region) on 8 aws seeds, 2 per region, with the purposes
//    per seed set here so that the busiest seeds hold 540 shoots, 300 of them production.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { planRollout, type ObservedShoot } from '../../src/engine/planner.js';
import { planLandscape } from '../../src/sim/landscape-plan.js';
import { exposureLandscape } from '../../src/sim/scenario.js';

describe('the example rollout on a landscape with busy production seeds', () => {
  const rollout = CanaryRollout.parse(yaml.load(readFileSync('examples/gardenlet-rollout.yaml', 'utf8')));
  const landscape = planLandscape(exposureLandscape('ex'));
  const seeds = landscape.seeds.map((s) => ({ name: s.name, provider: s.provider, region: s.region, labels: {}, deleting: false }));
  const { plan, notes } = planRollout(rollout.spec, seeds, landscape.shoots, new Date('2026-11-24T08:00:00Z'));
  const canary = plan.waves[0]!;

  it('covers every provider/region with its evaluation seed: 120 shoots, none production', () => {
    expect(plan.shoots).toBe(960);
    expect(canary.seeds.map((s) => s.name)).toEqual(['aws', 'azure', 'gcp'].flatMap((p) => ['eu-1', 'us-1'].map((r) => `ex-${p}-${r}-2`)));
    expect(canary).toMatchObject({ shoots: 120, productionShoots: 0, shootsByPurpose: { evaluation: 60, testing: 60 } });
    expect(notes).toContain('wave canary: autoPick exposes 120 shoots (0 production) for 120 countable shoots (minimum sample 10)');
  });

  it('leaves the busiest seed of each group, what the old rule picked, to later waves', () => {
    const busiest = seeds.filter((s) => s.name.endsWith('-0')).map((s) => s.name);
    const onBusiest = landscape.shoots.filter((sh) => busiest.includes(sh.seed));
    expect([onBusiest.length, onBusiest.filter((sh) => sh.purpose === 'production').length]).toEqual([540, 300]);
    expect(canary.seeds.filter((s) => busiest.includes(s.name))).toEqual([]);
  });
});

describe("the GEP draft's extension example on 8 seeds in 4 regions", () => {
  const gep = [...readFileSync('gep-draft.md', 'utf8').matchAll(/^```yaml[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)].map((m) => yaml.load(m[1]!) as Record<string, unknown>);
  const rollout = CanaryRollout.parse(gep.find((b) => b.kind === 'CanaryRollout' && (b.spec as { target: object }).target && 'extension' in (b.spec as { target: object }).target));
  const purposes: Record<string, Record<string, number>> = {
    'aws-ap1': { production: 60, development: 30 },
    'aws-ap2': { production: 10, development: 30, evaluation: 20 },
    'aws-eu1': { production: 80, development: 50, evaluation: 20 },
    'aws-eu2': { production: 20, development: 60, testing: 40 },
    'aws-eu3': { production: 90, development: 50, evaluation: 20 },
    'aws-eu4': { production: 60, development: 50, evaluation: 20 },
    'aws-us1': { production: 70, development: 50, evaluation: 20 },
    'aws-us2': { production: 10, development: 60, evaluation: 40 },
  };
  const regions: Record<string, string> = { ap: 'ap-south-1', eu1: 'eu-west-1', eu2: 'eu-west-1', eu3: 'eu-central-1', eu4: 'eu-central-1', us: 'us-east-1' };
  const regionOf = (seed: string) => regions[seed.slice(4)] ?? regions[seed.slice(4, 6)]!;
  const seeds = Object.keys(purposes).map((name) => ({ name, provider: 'aws', region: regionOf(name), labels: { 'seed.gardener.cloud/provider': 'aws', 'seed.gardener.cloud/region': regionOf(name) }, deleting: false }));
  const shootsOf = (seed: string) => Object.values(purposes[seed]!).reduce((a, n) => a + n, 0);
  const shoots: ObservedShoot[] = Object.entries(purposes).flatMap(([seed, by]) => Object.entries(by).flatMap(([purpose, n]) => Array.from({ length: n }, () => ({ seed, purpose }))));

  it('picks per region the seed with the fewest production shoots: 420 shoots, 100 production', () => {
    const { plan } = planRollout(rollout.spec, seeds, shoots, new Date('2026-11-24T08:00:00Z'));
    expect(plan.waves[0]!.seeds.map((s) => s.name).sort()).toEqual(['aws-ap2', 'aws-eu2', 'aws-eu4', 'aws-us2']);
    expect(plan.waves[0]).toMatchObject({ shoots: 420, productionShoots: 100, shootsByPurpose: { production: 100, development: 200, evaluation: 80, testing: 40 } });
    // the europe wave takes the rest of eu-west-1 by its selector, the last wave everything left
    expect(plan.waves.map((w) => w.seeds.map((s) => s.name).sort())).toEqual([['aws-ap2', 'aws-eu2', 'aws-eu4', 'aws-us2'], ['aws-eu1'], ['aws-ap1', 'aws-eu3', 'aws-us1']]);
  });

  it('exposed 540 shoots, 300 production, with the busiest seed of each region', () => {
    const busiest = ['ap-south-1', 'eu-west-1', 'eu-central-1', 'us-east-1'].map((r) => seeds.filter((s) => s.region === r).sort((a, b) => shootsOf(b.name) - shootsOf(a.name))[0]!.name);
    const on = shoots.filter((sh) => busiest.includes(sh.seed!));
    expect([on.length, on.filter((sh) => sh.purpose === 'production').length]).toEqual([540, 300]);
  });
});
