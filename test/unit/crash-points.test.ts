// The crash controller's matching rule (test/support/crash-controller.ts): which crash points a status write passes.
import { describe, expect, it } from '@jest/globals';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { CrashPoints, parsePoints, passedPoints } from '../support/crash-controller.js';

const entry = (time: string, event: string, kind: 'Decision' | 'Operation' = 'Decision') => ({ time, kind, event });
const seeds = (...phases: [string, string][]) => [{ name: 'w', phase: 'Promoting' as const, seedsPromoted: 0, seedsTotal: phases.length, seeds: phases.map(([name, phase]) => ({ name, phase })) }];
const status = (s: Partial<Record<keyof CanaryRolloutStatus, unknown>>) => s as CanaryRolloutStatus;

describe('crash points', () => {
  it('a write passes the events it adds to the history, the phase it moves to and the seed phases it enters', () => {
    const before = status({ phase: 'Halted', history: [entry('t1', 'Planned'), entry('t2', 'Halted')], waves: seeds(['a', 'Promoting'], ['b', 'Pending']) });
    const after = status({ phase: 'Progressing', history: [entry('t1', 'Planned'), entry('t2', 'Halted'), entry('t3', 'resume', 'Operation')], waves: seeds(['a', 'Promoted'], ['b', 'Pending']) });
    expect(passedPoints(before, after).sort()).toEqual(['Progressing', 'resume', 'seed:Promoted']);
  });

  it('staying in a phase passes nothing, and the first write of a rollout starts from Pending', () => {
    const s = status({ phase: 'Halted', history: [entry('t2', 'Halted')] });
    expect(passedPoints(s, s)).toEqual([]);
    expect(passedPoints(undefined, status({ phase: 'Pending', history: [] }))).toEqual([]);
    expect(passedPoints(undefined, status({ phase: 'Planning', history: [entry('t1', 'Planned')] })).sort()).toEqual(['Planned', 'Planning']);
  });

  it('compares with the last write of the same rollout, or the baseline before the first, and only for the named rollouts', () => {
    const halted = status({ phase: 'Halted', history: [entry('t2', 'Halted')] });
    const points = new CrashPoints(parsePoints(' Halted , RollingBack'), ['r'], (n) => (n === 'r' ? halted : undefined));
    expect(points.written('r', { status: halted })).toBeUndefined(); // already halted when the process started
    expect(points.written('other', { status: status({ phase: 'RollingBack' }) })).toBeUndefined();
    expect(points.written('r', { status: status({ phase: 'RollingBack', history: [entry('t2', 'Halted'), entry('t3', 'abort', 'Operation')] }) })).toBe('RollingBack');
  });
});
