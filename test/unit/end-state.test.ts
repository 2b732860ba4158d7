// Issue 17, "the end is explicit": in every final phase the status says what the rollout still holds in the
// garden and what lets go of it; wave phases are final; kubectl canary status offers the one next step; events do
// not repeat the wave's name.
import { describe, expect, it } from '@jest/globals';
import { CanaryRollout, CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { historyText } from '../../src/engine/decide.js';
import { nextSteps } from '../../src/cli/render.js';
import { World } from '../../src/sim/world.js';
import { runSimulation } from '../support/run-sim.js';

const SEEDS = ['aws-a', 'aws-b', 'gcp-a', 'gcp-b'];

function world(bad: string[]): World {
  const w = new World(7, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(bad), badSeedFailureRate: 0.9, noiseRate: 0, userErrorShare: 0 });
  for (const name of SEEDS) {
    w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: {} });
    for (let j = 0; j < 8; j++) w.addShoot({ namespace: 'garden-p', name: `${name}-s${j}`, seed: name, hibernated: false, health: 'healthy', userError: false });
  }
  return w;
}

function spec(rollback: 'Freeze' | 'RevertAll'): CanaryRolloutSpec {
  return CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    // the halted wave has two seeds, so its stops are more than the canary's
    waves: [
      { name: 'canary', seedNames: ['aws-a', 'aws-b'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '1h' },
      { name: 'rest', percent: 100 },
    ],
    healthGate: { minSampleSize: 5 },
    onHalt: { rollback },
  });
}

/** Runs until halted, aborts, and returns the final status and the events of every step. */
function abortAfterHalt(rollback: 'Freeze' | 'RevertAll') {
  const w = world(['aws-a', 'aws-b']);
  const steps = runSimulation(w, spec(rollback), { maxSteps: 300, stepMs: 5 * 60_000, operator: (_i, st) => (st?.phase === 'Halted' ? 'abort' : undefined) });
  const last = steps.at(-1)!;
  return { w, status: last.decision.status, desired: last.desired, events: steps.flatMap((s) => s.decision.events) };
}

const rollout = (status: CanaryRolloutStatus, rollback: 'Freeze' | 'RevertAll') => CanaryRollout.parse({ apiVersion: 'canary.gardener.cloud/v1alpha1', kind: 'CanaryRollout', metadata: { name: 'r' }, spec: spec(rollback), status });

describe('what an ended rollout still holds', () => {
  it('Aborted under Freeze after a halt: the message names the stops it keeps and what lets go of them; kubectl canary offers that command', () => {
    const { w, status, desired } = abortAfterHalt('Freeze');
    expect(status.phase).toBe('Aborted');
    // the garden really still carries them (desired garden of the final status, converged by the executor)
    expect(Object.entries(desired.seeds).filter(([, s]) => s.stop === true).map(([n]) => n).sort()).toEqual(['aws-a', 'aws-b']);
    expect(['aws-a', 'aws-b'].every((n) => w.seeds.get(n)!.emergencyStopped)).toBe(true);
    expect(status.message).toBe('aborted, versions left as they were; it still holds the emergency stop on 2 seeds (aws-a, aws-b) and its marks on 4 seeds; deleting the rollout lets go of them and changes no version');
    const holding = status.conditions!.find((c) => c.type === 'Holding')!;
    expect([holding.status, holding.reason, holding.message]).toEqual(['True', 'DeletionReleasesIt', status.message]);
    expect(status.waves!.map((x) => x.phase)).toEqual(['Aborted', 'Cancelled']);
    expect(nextSteps(rollout(status, 'Freeze'))).toEqual(['kubectl delete canaryrollout r   let go of what it still holds (changes no version)']);
  });

  it('RolledBack: holds nothing and says so; wave phases are final; no next step', () => {
    const { w, status } = abortAfterHalt('RevertAll');
    expect(status.phase).toBe('RolledBack');
    expect(SEEDS.some((n) => w.seeds.get(n)!.emergencyStopped)).toBe(false);
    expect(status.message).toBe('rolled back: the previous version is back on every promoted seed; nothing of this rollout is left in the garden');
    const holding = status.conditions!.find((c) => c.type === 'Holding')!;
    expect([holding.status, holding.reason]).toEqual(['False', 'HoldsNothing']);
    expect(status.waves!.map((x) => x.phase)).toEqual(['RolledBack', 'Cancelled']);
    expect(nextSteps(rollout(status, 'RevertAll'))).toEqual([]);
  });

  it('a rollout in flight has no Holding condition (its phase and other conditions say what it does)', () => {
    const w = world(['aws-a', 'aws-b']);
    const steps = runSimulation(w, spec('Freeze'), { maxSteps: 300, stepMs: 5 * 60_000 });
    expect(steps.at(-1)!.decision.status.phase).toBe('Halted');
    expect(steps.some((s) => s.decision.status.conditions?.some((c) => c.type === 'Holding'))).toBe(false);
  });

  it('the Halted event names its wave once', () => {
    const { events } = abortAfterHalt('Freeze');
    const halted = events.find((e) => e.reason === 'Halted')!;
    expect(halted.message).toMatch(/^wave canary: /);
    expect(halted.message).not.toMatch(/^wave canary: wave canary/);
    expect(historyText({ time: 't', kind: 'Decision', event: 'WaveStarted', wave: 'rest', message: 'starting', actor: 'me' })).toBe('wave rest: starting (by me)');
  });
});
