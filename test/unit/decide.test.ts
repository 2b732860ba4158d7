import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import { World } from '../../src/sim/world.js';
import { runSimulation } from '../support/run-sim.js';

function world(seed: number, bad: string[] = []): World {
  const w = new World(seed, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(bad), badSeedFailureRate: 0.8, noiseRate: 0, userErrorShare: 0 });
  for (const [i, name] of ['aws-a', 'aws-b', 'gcp-a', 'gcp-b', 'az-a', 'az-b'].entries()) {
    w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: {} });
    for (let j = 0; j < 10; j++) w.addShoot({ namespace: `garden-p${j % 3}`, name: `${name}-s${j}`, seed: name, hibernated: j === 9, health: 'healthy', userError: false });
    void i;
  }
  return w;
}

const spec = CanaryRolloutSpec.parse({
  target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
  waves: [
    { name: 'canary', seedNames: ['aws-a'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '1h' },
    { name: 'rest', percent: 100, maxConcurrentSeeds: 2 },
  ],
  healthGate: { minSampleSize: 10 },
  bake: '30m',
});

describe('decide on a simulated landscape', () => {
  it('rolls a healthy version out to every seed', () => {
    const w = world(1);
    const steps = runSimulation(w, spec, { maxSteps: 400, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect([...w.seeds.values()].every((s) => s.version === 'v1.150.0')).toBe(true);
    expect(last.waves!.map((x) => x.phase)).toEqual(['Succeeded', 'Succeeded']);
  });

  it('halts in the canary wave and touches nothing beyond it', () => {
    const w = world(2, ['aws-a']);
    const steps = runSimulation(w, spec, { maxSteps: 200, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(last.message).toMatch(/wave canary/);
    // the world saw one chart change: the canary's
    expect([...w.changes.promotions]).toEqual([['aws-a', 1]]);
    expect(w.seeds.get('aws-a')!.emergencyStopped).toBe(true);
  });
});

describe('a pause stops progress, not protection', () => {
  it('a wave that goes bad while paused halts and is emergency-stopped; nothing is promoted meanwhile', () => {
    const w = world(3, ['aws-a']);
    let pausedAt: number | undefined;
    const steps = runSimulation(w, spec, {
      maxSteps: 200,
      stepMs: 5 * 60_000,
      // pause as soon as the canary runs the new version, before its shoots are reconciled onto it
      operator: (i) => {
        if (pausedAt === undefined && w.seeds.get('aws-a')!.version === 'v1.150.0') {
          pausedAt = i;
          return 'pause';
        }
        return undefined;
      },
    });
    const phases = steps.map((s) => s.decision.status.phase);
    expect(pausedAt).toBeDefined();
    expect(phases[pausedAt!]).toBe('Paused');
    expect(phases.at(-1)).toBe('Halted');
    expect(steps.at(-1)!.decision.status.message).toMatch(/wave canary/);
    expect(w.seeds.get('aws-a')!.emergencyStopped).toBe(true);
    expect([...w.changes.promotions]).toEqual([['aws-a', 1]]);
  });
});

describe('an empty wave', () => {
  it('passes at once, says why, and does not hold the rollout until its deadline', () => {
    const w = world(4);
    const withEmpty = CanaryRolloutSpec.parse({
      ...spec,
      waves: [...spec.waves, { name: 'leftover', percent: 100, bake: '24h' }],
      progressDeadline: '48h',
    });
    const steps = runSimulation(w, withEmpty, { maxSteps: 400, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect(last.waves!.map((x) => x.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(steps.flatMap((s) => s.decision.notes)).toContain('wave leftover: empty wave: no seeds to promote (0 planned, 0 vanished), skipped');
    // well before the 24 h bake or the 48 h deadline: at most two steps after the wave before it ended
    const restDone = steps.findIndex((s) => s.decision.status.waves?.[1]?.phase === 'Succeeded');
    expect(steps.length - 1 - restDone).toBeLessThanOrEqual(2);
  });
});
