// The gate's rules over time, on a simulated landscape driven through decide(): the grace period for seed
// readiness, regressions of finished waves, the progress deadline while baking and while waiting for a seed, and
// what a resume accepts.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { restoreContext } from '../../src/engine/persisted.js';
import { World } from '../../src/sim/world.js';
import { runSimulation, type Step } from '../support/run-sim.js';

const MIN = 60_000;

function world(seed: number, bad: string[] = [], breaks: string[] = []): World {
  const w = new World(seed, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(bad), badSeedFailureRate: 0.8, noiseRate: 0, userErrorShare: 0 });
  for (const name of ['aws-a', 'aws-b', 'gcp-a', 'gcp-b']) {
    w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: {}, breaksOnUpgrade: breaks.includes(name) });
    for (let j = 0; j < 10; j++) w.addShoot({ namespace: `garden-p${j % 3}`, name: `${name}-s${j}`, seed: name, hibernated: j === 9, health: 'healthy', userError: false });
  }
  return w;
}

function spec(over: Record<string, unknown> = {}): CanaryRolloutSpec {
  return CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [
      { name: 'canary', seedNames: ['aws-a'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '1h' },
      { name: 'rest', percent: 100 },
    ],
    healthGate: { minSampleSize: 10 },
    bake: '30m',
    progressDeadline: '2h',
    ...over,
  });
}

const phases = (steps: Step[]) => steps.map((s) => s.decision.status.phase);
const waveOf = (s: CanaryRolloutStatus | undefined, i: number) => s?.waves?.[i]?.phase;

describe('seed readiness grace period (healthGate.seedReadinessGracePeriod, default 2m)', () => {
  /** Takes aws-a out of readiness for `lookMs` once its canary wave bakes, then gives it back. */
  function blip(lookMs: number) {
    const w = world(11);
    let from: number | undefined;
    const steps = runSimulation(w, spec(), {
      maxSteps: 400,
      stepMs: MIN,
      operator: (_i, status) => {
        const seed = w.seeds.get('aws-a')!;
        if (from === undefined && waveOf(status, 0) === 'Baking') {
          from = w.now;
          seed.ready = false;
        } else if (from !== undefined && w.now - from >= lookMs) seed.ready = true;
        return undefined;
      },
    });
    return { steps, w };
  }

  it('a blip shorter than the grace period does not halt', () => {
    const { steps } = blip(MIN);
    expect(phases(steps)).not.toContain('Halted');
    expect(phases(steps).at(-1)).toBe('Succeeded');
  });

  it('a seed not ready for longer than the grace period halts, naming it, and is stopped', () => {
    const { steps, w } = blip(10 * MIN);
    const halt = steps.findIndex((s) => s.decision.status.phase === 'Halted');
    expect(halt).toBeGreaterThan(0);
    expect(steps[halt]!.decision.status.message).toMatch(/seeds stopped being ready or their installations fail: aws-a/);
    // not at the first look that saw it: only once two minutes had passed
    const firstNotReady = steps.findIndex((s) => Object.values(restoreContext(spec(), s.decision.status)!.ctx.seeds).some((x) => x.notReadySince));
    expect(halt - firstNotReady).toBeGreaterThanOrEqual(2);
    expect(w.seeds.get('aws-a')!.emergencyStopped).toBe(true);
  });
});

describe('finished waves are checked again', () => {
  it('a canary seed that stops being ready while a later wave runs halts the rollout and gets its stop back', () => {
    const w = world(12);
    const steps = runSimulation(w, spec(), {
      maxSteps: 400,
      stepMs: MIN,
      operator: (_i, status) => {
        if (waveOf(status, 0) === 'Succeeded') w.seeds.get('aws-a')!.ready = false;
        return undefined;
      },
    });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(last.message).toMatch(/aws-a/);
    expect(waveOf(last, 0)).toBe('Succeeded');
    expect(w.seeds.get('aws-a')!.emergencyStopped).toBe(true);
  });
});

describe('the progress deadline applies until a wave is passing and ready', () => {
  it('a passing wave waiting for a seed that never becomes ready misses its deadline (Pause)', () => {
    const w = world(13, [], ['gcp-b']);
    const steps = runSimulation(w, spec(), { maxSteps: 400, stepMs: 5 * MIN });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Paused');
    expect(last.history!.map((h) => h.event)).toContain('ProgressDeadlineExceeded');
    // the gate itself passed: it was the seed that kept the wave
    expect(last.waves![1]!.unhealthyRatio ?? 0).toBe(0);
    expect(last.waves![1]!.seeds!.find((s) => s.name === 'gcp-b')!.phase).toBe('Promoting');
  });

  it('a baking wave whose sample falls below the minimum misses its deadline after the bake', () => {
    const w = world(14);
    let bakeUntil: string | undefined;
    const steps = runSimulation(w, spec(), {
      maxSteps: 400,
      stepMs: 5 * MIN,
      operator: (_i, status) => {
        // the canary bakes; then six of its shoots hibernate: 3 countable shoots left of a minimum of 5
        if (!bakeUntil && waveOf(status, 0) === 'Baking') {
          bakeUntil = status!.waves![0]!.bakeUntil;
          for (const sh of w.shoots.filter((x) => x.seed === 'aws-a').slice(0, 6)) sh.hibernated = true;
        }
        return undefined;
      },
    });
    const last = steps.at(-1)!.decision.status;
    expect(bakeUntil).toBeDefined();
    expect(last.phase).toBe('Paused');
    expect(waveOf(last, 0)).not.toBe('Succeeded');
    const missed = last.history!.find((h) => h.event === 'ProgressDeadlineExceeded')!;
    // the deadline counts from the end of the bake: progressDeadline (2h) after it
    expect(Date.parse(missed.time) - Date.parse(bakeUntil!)).toBeGreaterThanOrEqual(2 * 60 * MIN);
  });
});

describe('a resume renews the deadline', () => {
  it('of a baking wave from the end of its bake, not from the resume', () => {
    const w = world(16);
    let paused = false;
    let resumed: CanaryRolloutStatus | undefined;
    runSimulation(w, spec({ waves: [{ name: 'canary', seedNames: ['aws-a'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '6h' }, { name: 'rest', percent: 100 }] }), {
      maxSteps: 40,
      stepMs: 5 * MIN,
      operator: (_i, status) => {
        if (!paused && waveOf(status, 0) === 'Baking') {
          paused = true;
          return 'pause';
        }
        if (paused && !resumed && status?.phase === 'Paused') return 'resume';
        return undefined;
      },
      afterStep: (step) => {
        if (step.operation === 'resume') resumed = step.decision.status;
      },
    });
    const canary = resumed!.waves![0]!;
    expect(Date.parse(canary.deadline!) - Date.parse(canary.bakeUntil!)).toBe(2 * 60 * MIN);
  });
});

describe('a resume accepts the failures seen so far', () => {
  it('also when baseline exclusion is off', () => {
    const s = spec({ healthGate: { minSampleSize: 10, exclude: { baselineUnhealthy: false } } });
    const w = world(15, ['aws-a']);
    let resumedAt: number | undefined;
    const steps = runSimulation(w, s, {
      maxSteps: 60,
      stepMs: MIN,
      operator: (i, status) => {
        if (resumedAt === undefined && status?.phase === 'Halted') {
          resumedAt = i;
          return 'resume';
        }
        return undefined;
      },
    });
    expect(resumedAt).toBeDefined();
    expect(steps[resumedAt!]!.decision.status.phase).toBe('Progressing');
    // the next look counts again: the failures the resume accepted stay out
    const after = steps[resumedAt! + 1]!.decision.status;
    expect(after.phase).toBe('Progressing');
    expect(after.waves![0]!.counts!.excluded.accepted).toBeGreaterThan(0);
    expect(after.waves![0]!.counts!.unhealthy).toBe(0);
  });
});
