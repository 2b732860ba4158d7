// Golden logs: whole rollouts on small simulated landscapes, as the decision log an operator would read.
// A change in behaviour shows up as a diff of these logs (test/unit/__snapshots__/golden.test.ts.snap).
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import { World } from '../../src/sim/world.js';
import { runSimulation, type Step } from '../support/run-sim.js';

function world(bad: string[]): World {
  const w = new World(7, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(bad), badSeedFailureRate: 0.9, noiseRate: 0, userErrorShare: 0 });
  for (const name of ['aws-eu-0', 'aws-eu-1', 'gcp-us-0', 'gcp-us-1']) {
    const [provider, region] = name.split('-') as [string, string];
    w.addSeed({ name, provider, region, labels: {}, ...(name === 'aws-eu-1' ? { parent: 'aws-eu-0' } : {}) });
    for (let j = 0; j < 8; j++) w.addShoot({ namespace: 'garden-dev', name: `${name}-${j}`, seed: name, hibernated: j === 7, health: 'healthy', userError: false });
  }
  return w;
}

const spec = (rollback: 'Freeze' | 'RevertAll') =>
  CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'registry.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [
      { name: 'canary', seedNames: ['gcp-us-0'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '1h' },
      { name: 'rest', percent: 100, maxConcurrentSeeds: 1 },
    ],
    healthGate: { minSampleSize: 10, maxUnhealthyRatio: 0.1, maxOverallUnhealthyRatio: 0.1 },
    bake: '30m',
    onHalt: { emergencyStop: true, rollback },
  });

function log(steps: Step[]): string {
  const lines: string[] = [];
  let last = '';
  for (const s of steps) {
    const st = s.decision.status;
    const garden = s.changes.filter((c) => !c.startsWith('reconcile ')).join(', ');
    const requests = s.changes.filter((c) => c.startsWith('reconcile ')).length;
    const line = `${s.at.slice(11, 16)} ${st.phase}${s.operation ? ` [operator: ${s.operation}]` : ''} ${s.decision.notes.join(' | ')}${garden ? ` || garden: ${garden}` : ''}${requests ? ` || ${requests} reconcile requests` : ''}`;
    const key = `${st.phase}|${s.decision.notes.filter((n) => !n.startsWith('wave ')).join('|')}|${s.operation ?? ''}`;
    if (key !== last || s.decision.events.length || s.changes.length) lines.push(line);
    last = key;
  }
  return lines.join('\n');
}

describe('golden rollout logs', () => {
  it('a healthy version goes out wave by wave; the managed seed follows its parent', () => {
    const steps = runSimulation(world([]), spec('Freeze'), { maxSteps: 200, stepMs: 10 * 60_000 });
    expect(steps.at(-1)!.decision.status.phase).toBe('Succeeded');
    expect(log(steps)).toMatchSnapshot();
  });

  it('a bad canary halts the rollout; the operator aborts and every promoted seed is reverted', () => {
    let halted = -1;
    const steps = runSimulation(world(['gcp-us-0']), spec('RevertAll'), {
      maxSteps: 200,
      stepMs: 10 * 60_000,
      operator: (i, status) => {
        if (status?.phase === 'Halted' && halted < 0) halted = i;
        return halted >= 0 && i === halted + 3 ? 'abort' : undefined;
      },
    });
    expect(steps.at(-1)!.decision.status.phase).toBe('RolledBack');
    expect(log(steps)).toMatchSnapshot();
  });
});
