// Stale inputs stop progress, never protection (src/engine/freshness.ts), driven through decide() on a simulated
// landscape the way the controller drives it, with the caches' freshness as an input.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import type { InputFreshness } from '../../src/engine/freshness.js';
import { World } from '../../src/sim/world.js';
import { Backoff } from '../../src/util/backoff.js';
import { runSimulation, type Step } from '../support/run-sim.js';

const STEP_MS = 5 * 60_000;

function world(seed: number, bad: string[] = []): World {
  const w = new World(seed, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(bad), badSeedFailureRate: 0.8, noiseRate: 0, userErrorShare: 0 });
  for (const name of ['aws-a', 'aws-b', 'gcp-a', 'gcp-b']) {
    w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: {} });
    for (let j = 0; j < 8; j++) w.addShoot({ namespace: `garden-p${j % 3}`, name: `${name}-s${j}`, seed: name, hibernated: false, health: 'healthy', userError: false });
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
  progressDeadline: '48h',
});

const fresh = (now: number): InputFreshness => ({ freshAsOfMs: now, stale: [] });
const stale = (now: number, since: number): InputFreshness => ({ freshAsOfMs: since, stale: [{ resource: 'shoots', confirmedAt: new Date(since).toISOString() }] });
const promotedCount = (s: Step) => (s.decision.status.waves ?? []).reduce((n, w) => n + w.seedsPromoted, 0);
const succeededWaves = (s: Step) => (s.decision.status.waves ?? []).filter((w) => w.phase === 'Succeeded').length;

describe('stale inputs', () => {
  it('hold every promotion, wave success and plan while stale, say so, and the rollout completes once fresh again', () => {
    const w = world(1);
    // stale from the step after the canary's bake started, for 3 hours (the bake is 1 hour)
    let from: number | undefined;
    let since = 0;
    const inputs = (i: number, now: number) => {
      if (from === undefined && steps.at(-1)?.decision.status.waves?.[0]?.bakeUntil) [from, since] = [i, now];
      return from !== undefined && i < from + 36 ? stale(now, since) : fresh(now);
    };
    const steps: Step[] = [];
    runSimulation(w, spec, { maxSteps: 300, stepMs: STEP_MS, inputs, afterStep: (s) => steps.push(s) });
    expect(from).toBeDefined();
    const during = steps.slice(from, from! + 36);
    const atStart = steps[from! - 1]!;
    expect(atStart.decision.status.waves![0]!.phase).toBe('Baking');
    for (const s of during) {
      expect(promotedCount(s)).toBe(promotedCount(atStart));
      expect(succeededWaves(s)).toBe(succeededWaves(atStart));
      expect(s.decision.status.conditions!.find((c) => c.type === 'InputsStale')).toMatchObject({ status: 'True', reason: 'CachesNotConfirmed' });
      expect(s.decision.status.conditions!.find((c) => c.type === 'InputsStale')!.message).toMatch(/shoots \(last confirmed \d{4}-\d\d-\d\dT/);
      // a held rollout looks again soon, not at the next 30 s poll
      expect(s.decision.requeueAfterMs).toBeLessThanOrEqual(5_000);
    }
    // the canary bake (1h) had ended long before the caches came back: without the hold the canary would have passed
    expect(Date.parse(during.at(-1)!.at)).toBeGreaterThan(Date.parse(atStart.decision.status.waves![0]!.bakeUntil!) + 60 * 60_000);
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect(last.conditions!.find((c) => c.type === 'InputsStale')).toMatchObject({ status: 'False', reason: 'CachesFresh' });
  });

  it('still halt on what is known: a canary failing while the caches are stale halts and is emergency-stopped', () => {
    const w = world(2, ['aws-a']);
    // stale from the moment the canary runs the new version, for good
    let since: number | undefined;
    const inputs = (_i: number, now: number) => {
      if (since === undefined && w.seeds.get('aws-a')!.version === 'v1.150.0') since = now;
      return since !== undefined ? stale(now, since) : fresh(now);
    };
    const steps = runSimulation(w, spec, { maxSteps: 120, stepMs: STEP_MS, inputs });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(last.message).toMatch(/wave canary/);
    expect(w.seeds.get('aws-a')!.emergencyStopped).toBe(true);
    expect([...w.changes.promotions]).toEqual([['aws-a', 1]]);
  });

  it('plan nothing: a rollout whose caches are stale from the start stays Pending', () => {
    const w = world(3);
    const steps = runSimulation(w, spec, { maxSteps: 5, stepMs: STEP_MS, inputs: (_i, now) => stale(now, now - 3600_000) });
    expect(steps.map((s) => s.decision.status.phase)).toEqual(['Pending', 'Pending', 'Pending', 'Pending', 'Pending']);
    expect(w.changes.promotions.size).toBe(0);
  });
});

describe('a bake ends only on data confirmed after its end', () => {
  it('waits while the caches, within their bound, were last confirmed before bakeUntil, and ends once they are confirmed after it', () => {
    const w = world(4);
    // the caches are never stale by the bound, but always confirmed 50 min late (as if every probe took that long)
    const lag = 50 * 60_000;
    const steps = runSimulation(w, spec, { maxSteps: 300, stepMs: STEP_MS, inputs: (_i, now) => ({ freshAsOfMs: now - lag, stale: [] }) });
    const canaryDone = steps.findIndex((s) => s.decision.status.waves?.[0]?.phase === 'Succeeded');
    expect(canaryDone).toBeGreaterThan(0);
    const bakeUntil = Date.parse(steps[canaryDone - 1]!.decision.status.waves![0]!.bakeUntil!);
    expect(Date.parse(steps[canaryDone]!.at) - lag).toBeGreaterThanOrEqual(bakeUntil);
    // the step before it had passed bakeUntil by the clock, but not by the data
    const before = steps.filter((s, i) => i < canaryDone && Date.parse(s.at) >= bakeUntil);
    expect(before.length).toBeGreaterThan(0);
    for (const s of before) expect(s.decision.requeueAfterMs).toBeLessThanOrEqual(1_000);
    expect(steps.at(-1)!.decision.status.phase).toBe('Succeeded');
  });

  it('does not hold an empty wave, which skips its bake (nothing to observe), for its bake time', () => {
    const w = world(5);
    const withEmpty = CanaryRolloutSpec.parse({ ...spec, waves: [...spec.waves, { name: 'leftover', percent: 100, bake: '24h' }] });
    const steps = runSimulation(w, withEmpty, { maxSteps: 300, stepMs: STEP_MS, inputs: (_i, now) => ({ freshAsOfMs: now - 1000, stale: [] }) });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect(Date.parse(last.waves![2]!.finishedAt!) - Date.parse(last.waves![2]!.startedAt!)).toBeLessThan(24 * 3600_000);
  });
});

describe('Backoff', () => {
  it('doubles from the base to the cap, stretched by up to the jitter, and starts again after a reset', () => {
    let r = 0;
    const b = new Backoff({ baseMs: 100, maxMs: 1000, jitter: 1, random: () => r });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    r = 0.999;
    expect(b.next()).toBe(1999);
    b.reset();
    r = 0.5;
    expect(b.next()).toBe(150);
    expect(b.attempts).toBe(1);
  });
});
