import { describe, expect, it } from '@jest/globals';
import { planLandscape, type LandscapeSpec } from '../../src/sim/landscape-plan.js';

const spec: LandscapeSpec = {
  prefix: 'u1',
  providers: [
    { type: 'aws', regions: ['eu-west-1', 'us-east-1'] },
    { type: 'gcp', regions: ['europe-west1'] },
  ],
  seedsPerRegion: 2,
  managedSeeds: 2,
  projects: 3,
  shootsPerSeed: 10,
  hibernateEvery: 5,
  unhealthyEvery: 8,
  gardenerVersion: 'v1.149.0',
};

describe('planLandscape', () => {
  it('is deterministic', () => {
    expect(planLandscape(spec)).toEqual(planLandscape(spec));
  });

  it('places seeds per provider and region and shoots per seed', () => {
    const plan = planLandscape(spec);
    expect(plan.seeds).toHaveLength(6);
    expect(plan.shoots).toHaveLength(60);
    for (const seed of plan.seeds) expect(plan.shoots.filter((s) => s.seed === seed.name)).toHaveLength(10);
    expect(new Set(plan.shoots.map((s) => `${s.namespace}/${s.name}`)).size).toBe(60);
    expect(plan.seeds.map((s) => s.name)).toContain('u1-gcp-europe-west1-1');
  });

  it('gives each project one provider when there are enough projects, and puts shoots only in matching projects', () => {
    const plan = planLandscape(spec);
    expect(plan.projects.map((p) => p.providers)).toEqual([['aws'], ['gcp'], ['aws']]);
    for (const shoot of plan.shoots) {
      expect(plan.projects.find((p) => p.name === shoot.project)!.providers).toContain(shoot.provider);
    }
    const few = planLandscape({ ...spec, projects: 1 });
    expect(few.projects[0]!.providers).toEqual(['aws', 'gcp']);
  });

  it('hosts managed seeds on an unmanaged seed of the same provider and region', () => {
    const plan = planLandscape(spec);
    const managed = plan.seeds.filter((s) => s.parent);
    expect(managed.map((s) => s.name)).toEqual(['u1-gcp-europe-west1-0', 'u1-gcp-europe-west1-1']);
    // no unmanaged gcp seed in europe-west1 is left, and no other gcp region: the first unmanaged seed hosts them
    for (const m of managed) expect(m.parent).toBe('u1-aws-eu-west-1-0');
    const spec2 = { ...spec, managedSeeds: 1 };
    const m2 = planLandscape(spec2).seeds.find((s) => s.parent)!;
    expect(m2.parent).toBe('u1-gcp-europe-west1-0');
  });

  it('hibernates every n-th shoot and marks a baseline of unhealthy shoots with error codes', () => {
    const plan = planLandscape(spec);
    expect(plan.shoots.filter((s) => s.hibernated)).toHaveLength(12);
    const unhealthy = plan.shoots.filter((s) => s.health === 'unhealthy');
    expect(unhealthy).toHaveLength(6); // 48 awake shoots, every 8th
    expect(unhealthy.every((s) => !s.hibernated && s.errorCodes?.length)).toBe(true);
  });

  it('gives the i-th seed of each region its profile: shoot count and cycled purposes', () => {
    const plan = planLandscape({
      ...spec,
      managedSeeds: 0,
      seedProfiles: [
        { shoots: 3, purposes: ['production'] },
        { shoots: 4, purposes: ['evaluation', 'testing'] },
      ],
    });
    const of = (seed: string) => plan.shoots.filter((s) => s.seed === seed).map((s) => s.purpose);
    expect(of('u1-aws-eu-west-1-0')).toEqual(['production', 'production', 'production']);
    expect(of('u1-aws-eu-west-1-1')).toEqual(['evaluation', 'testing', 'evaluation', 'testing']);
    expect(of('u1-gcp-europe-west1-1')).toEqual(['evaluation', 'testing', 'evaluation', 'testing']);
    expect(plan.shoots).toHaveLength(3 * (3 + 4));
    expect(() => planLandscape({ ...spec, seedProfiles: [{ shoots: 1, purposes: [] }] })).toThrow(/at least one purpose/);
  });

  it('rejects prefixes that would break Gardener name limits', () => {
    expect(() => planLandscape({ ...spec, prefix: 'toolong1' })).toThrow(/1-6 lowercase/);
    expect(() => planLandscape({ ...spec, prefix: '1ab' })).toThrow(/starting with a letter/);
    expect(() => planLandscape({ ...spec, managedSeeds: 6 })).toThrow(/unmanaged/);
  });
});
