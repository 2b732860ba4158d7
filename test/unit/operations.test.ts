// Every operator operation from every state of the machine: allowed ones move it as documented, the others are
// recorded in the history and change nothing. States are sampled from simulated runs.
import { describe, expect, it } from '@jest/globals';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { decide } from '../../src/engine/decide.js';
import { simulate } from '../support/simulation.js';

type Sample = { status: CanaryRolloutStatus; run: ReturnType<typeof simulate> };
const stateKey = (s: CanaryRolloutStatus) => {
  const v = (s.machine!.state as { value: unknown }).value;
  return typeof v === 'string' ? v : JSON.stringify(v);
};

function samples(): Map<string, Sample> {
  const out = new Map<string, Sample>();
  for (let seed = 1; seed <= 300 && out.size < 13; seed++) {
    const run = simulate(seed);
    for (const s of run.steps) if (!out.has(stateKey(s.decision.status))) out.set(stateKey(s.decision.status), { status: s.decision.status, run });
  }
  return out;
}

const FINAL = new Set(['succeeded', 'aborted', 'rolledBack']);
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
  it('samples all 13 states', () => expect(all.size).toBe(13));

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
      if (op === 'abort' && d.status.phase === 'RollingBack') expect(d.effects.some((e) => e.type === 'revertSeed')).toBe(true);
      if (op === 'abort') expect(run.sc.spec.onHalt.rollback === 'RevertAll' || d.status.phase === 'Aborted').toBe(true);
    } else {
      expect(d.status.phase).toBe(status.phase);
      expect(stateKey(d.status)).toBe(key);
      expect(last.reason).toBe('NotAllowed');
      expect(d.effects.filter((e) => e.type !== 'emitEvent')).toEqual([]);
    }
    if (!FINAL.has(top) && op === 'abort') expect(['Aborted', 'RollingBack']).toContain(d.status.phase);
  });

  it('ignores an unknown operation and says so', () => {
    const { status, run } = all.get('{"progressing":"promoting"}')!;
    const d = decide({ spec: run.sc.spec, generation: 1, status, operation: { value: 'yolo' }, observation: run.sc.world.observation(), now: new Date(run.sc.world.now) });
    expect(d.status.phase).toBe('Progressing');
    expect(d.effects).toEqual([]);
    expect(d.notes[0]).toMatch(/unknown operation "yolo" ignored/);
    expect(d.status.history!.at(-1)).toMatchObject({ event: 'yolo', reason: 'Unknown' });
  });

  it('stands still with a Degraded condition on an unknown machine version', () => {
    const { status, run } = all.get('{"progressing":"promoting"}')!;
    const future = { ...status, machine: { ...status.machine!, version: 99 } };
    const d = decide({ spec: run.sc.spec, generation: 1, status: future, observation: run.sc.world.observation(), now: new Date(run.sc.world.now) });
    expect(d.effects).toEqual([]);
    expect(d.requeueAfterMs).toBeUndefined();
    expect(d.status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'UnknownMachineVersion' });
    expect(d.status.machine!.version).toBe(99);
  });
});
