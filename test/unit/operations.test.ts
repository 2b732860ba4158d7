// Every operator operation from every state of the machine: allowed ones move it as documented, the others are
// recorded in the history and change nothing. States are sampled from simulated runs.
import { describe, expect, it } from '@jest/globals';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { decide } from '../../src/engine/decide.js';
import { convergeEffects, desiredGarden } from '../../src/engine/desired.js';
import { simulate } from '../support/simulation.js';

type Sample = { status: CanaryRolloutStatus; run: ReturnType<typeof simulate> };
const stateKey = (s: CanaryRolloutStatus) => {
  const v = (s.machine!.state as { value: unknown }).value;
  return typeof v === 'string' ? v : JSON.stringify(v);
};

function samples(): Map<string, Sample> {
  const out = new Map<string, Sample>();
  for (let seed = 1; seed <= 300 && out.size < 14; seed++) {
    const run = simulate(seed);
    for (const s of run.steps) if (!out.has(stateKey(s.decision.status))) out.set(stateKey(s.decision.status), { status: s.decision.status, run });
  }
  return out;
}

const FINAL = new Set(['succeeded', 'aborted', 'rolledBack']);
// The SeedSelector hand-back (phase Progressing) takes no operation, abort included: the original
// ControllerDeployment carries the new content already and RevertAll has no way back from there (machine.ts:
// completing accepts only OBSERVE).
const NO_OPERATIONS = new Set([...FINAL, 'completing']);
const ALLOWED: Record<string, Record<string, (s: Sample) => string[]>> = {
  pause: { progressing: () => ['Paused'] },
  resume: { paused: () => ['Progressing'], halted: () => ['Progressing'] },
  promote: { progressing: () => ['Progressing'] },
  retry: { failed: () => ['Progressing'] },
  abort: {
    pending: () => ['Aborted'],
    planning: () => ['Aborted'],
    planned: () => ['Aborted'],
    progressing: () => ['Aborted', 'RollingBack'],
    paused: () => ['Aborted', 'RollingBack'],
    halted: () => ['Aborted', 'RollingBack'],
    failed: () => ['Aborted', 'RollingBack'],
  },
};

describe('operator operations from every state', () => {
  const all = samples();
  it('samples all 14 states', () => expect(all.size).toBe(14));

  const cases: [string, string][] = [];
  for (const key of [...all.keys()].sort()) for (const op of ['pause', 'resume', 'abort', 'promote', 'retry']) cases.push([op, key]);

  it.each(cases)('%s in %s', (op, key) => {
    const { status, run } = all.get(key)!;
    const top = key.startsWith('{') ? Object.keys(JSON.parse(key))[0]! : key;
    const d = decide({ spec: run.sc.spec, generation: 1, status, operation: { value: op, reason: 'test', actor: 'alice' }, observation: run.sc.world.observation(), now: new Date(run.sc.world.now) });
    const allowed = ALLOWED[op]![top];
    const last = d.status.history!.at(-1)!;
    expect(last).toMatchObject({ kind: 'Operation', event: op });
    if (allowed) {
      expect(allowed({ status, run })).toContain(d.status.phase);
      expect(last.reason).toBeUndefined();
      expect(last.actor).toBe('alice');
      // a rollback is owed from the status alone: the revert write (or, for SeedSelector, the labels off)
      if (op === 'abort' && d.status.phase === 'RollingBack') {
        const owed = convergeEffects(desiredGarden(run.sc.spec, d.status, run.sc.world.observation()));
        expect(owed.some((e) => e.type === 'revertSeed' || (e.type === 'updateControllerDeployment' && e.replaces !== undefined) || (e.type === 'labelSeed' && e.value === null))).toBe(true);
      }
      if (op === 'abort') expect(run.sc.spec.onHalt.rollback === 'RevertAll' || d.status.phase === 'Aborted').toBe(true);
    } else {
      expect(d.status.phase).toBe(status.phase);
      expect(stateKey(d.status)).toBe(key);
      expect(last.reason).toBe('NotAllowed');
      // what the rollout owes the garden did not change
      const obs = run.sc.world.observation();
      expect(desiredGarden(run.sc.spec, d.status, obs)).toEqual(desiredGarden(run.sc.spec, status, obs));
    }
    if (!NO_OPERATIONS.has(top) && op === 'abort') expect(['Aborted', 'RollingBack']).toContain(d.status.phase);
  });

  it('ignores an unknown operation and says so', () => {
    const { status, run } = all.get('{"progressing":"promoting"}')!;
    const d = decide({ spec: run.sc.spec, generation: 1, status, operation: { value: 'yolo' }, observation: run.sc.world.observation(), now: new Date(run.sc.world.now) });
    expect(d.status.phase).toBe('Progressing');
    expect(d.events.map((e) => e.reason)).toEqual(['OperationIgnored']);
    expect(d.notes[0]).toMatch(/unknown operation "yolo" ignored/);
    expect(d.status.history!.at(-1)).toMatchObject({ event: 'yolo', reason: 'Unknown' });
  });

  it('stands still with a Degraded condition on an unknown machine version', () => {
    const { status, run } = all.get('{"progressing":"promoting"}')!;
    const future = { ...status, machine: { ...status.machine!, version: 99 } };
    const d = decide({ spec: run.sc.spec, generation: 1, status: future, observation: run.sc.world.observation(), now: new Date(run.sc.world.now) });
    expect(d.events).toEqual([]);
    expect(d.requeueAfterMs).toBeUndefined();
    expect(desiredGarden(run.sc.spec, future, run.sc.world.observation()).seeds).toEqual({});
    expect(d.status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'UnknownMachineVersion' });
    expect(d.status.machine!.version).toBe(99);
  });
});
