// status.machine as persisted.ts reads and writes it: parsed per version, the history state of `progressing` kept
// across restarts, what an older or newer controller wrote carried on, and a malformed state refused by name.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus, type Plan } from '../../src/api/v1alpha1.js';
import { persistSnapshot, restoreContext, restoreSnapshot } from '../../src/engine/persisted.js';

const T = '2026-03-04T05:06:07.890Z';
const spec = CanaryRolloutSpec.parse({ target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } }, waves: [{ name: 'w0', count: 1 }, { name: 'w1', percent: 100 }] });
const plan: Plan = { computedAt: T, seeds: 2, shoots: 0, waves: [{ name: 'w0', shoots: 0, seeds: [{ name: 'a' }] }, { name: 'w1', shoots: 0, seeds: [{ name: 'b' }] }] };
const context = {
  current: 0,
  waves: [{ name: 'w0', startedAt: T, baseline: [] }, { name: 'w1', baseline: [] }],
  seeds: { a: { wave: 0, root: 'a', promotedAt: T }, b: { wave: 1, root: 'b' } },
  accepted: [],
  haltStops: [],
};

/** A status as machine version 2 wrote it (an object per seed), in `value`. */
function v2(value: unknown, extra: Record<string, unknown> = {}): CanaryRolloutStatus {
  return { phase: 'Paused', plan, history: [], machine: { version: 2, state: { value, context, ...extra } } };
}
/** The same status as this version writes it, through JSON as the API server stores it. */
function stored(st: CanaryRolloutStatus): CanaryRolloutStatus {
  return JSON.parse(JSON.stringify({ ...st, machine: persistSnapshot(restoreSnapshot(spec, st)) })) as CanaryRolloutStatus;
}

describe('status.machine', () => {
  it('keeps the history state of progressing (where a resume returns to) across a restart', () => {
    const paused = v2('paused', { historyValue: { 'rollout.progressing.hist': ['rollout.progressing.baking'] } });
    const again = stored(paused);
    expect(again.machine?.version).toBe(3);
    expect(again.machine?.state.historyValue).toEqual({ 'rollout.progressing.hist': ['rollout.progressing.baking'] });
    const snap = restoreSnapshot(spec, again);
    expect(snap.value).toBe('paused');
    expect(Object.values(snap.historyValue).flat().map((n) => n.id)).toEqual(['rollout.progressing.baking']);
  });

  it('carries on what another controller version wrote that this one does not know', () => {
    const future = { ...context, somethingNew: { x: 1 }, waves: [{ ...context.waves[0], later: true }, context.waves[1]] };
    const st: CanaryRolloutStatus = { ...v2({ progressing: 'baking' }), machine: { version: 2, state: { value: { progressing: 'baking' }, context: future } } };
    const again = stored(st);
    expect(again.machine?.state.context).toMatchObject({ somethingNew: { x: 1 }, waves: [{ name: 'w0', later: true }, { name: 'w1' }] });
    expect(restoreContext(spec, again)?.ctx).toEqual(restoreContext(spec, st)?.ctx);
  });

  it('refuses a malformed state, naming the field, rather than acting on it', () => {
    const bad = (state: Record<string, unknown>) => ({ ...v2('paused'), machine: { version: 2, state } });
    expect(() => restoreContext(spec, bad({ value: 'paused', context: { ...context, current: 'one' } }))).toThrow(/status\.machine \(version 2\) is malformed[^]*context\.current/);
    expect(() => restoreContext(spec, bad({ value: { progressing: 'sleeping' }, context }))).toThrow(/not a state of the rollout machine[^]*value/);
    expect(() => restoreContext(spec, bad({ value: 'paused', context: { ...context, seeds: { a: { root: 'a' } } } }))).toThrow(/context\.seeds\.a\.wave/);
    expect(() => restoreSnapshot(spec, bad({ value: 'paused', context, historyValue: { 'rollout.progressing.hist': ['rollout.nowhere'] } }))).toThrow();
  });

  it('parses a stored state once, and refuses a malformed one every time it is read', () => {
    const st = stored(v2({ progressing: 'baking' }));
    const first = restoreContext(spec, st);
    const second = restoreContext(spec, st);
    expect(second?.ctx).toEqual(first?.ctx);
    expect(second?.ctx.waves).toBe(first?.ctx.waves); // the same parsed object, not a second parse
    const bad = { ...v2('paused'), machine: { version: 2, state: { value: 'paused', context: { ...context, current: 'one' } } } };
    expect(() => restoreContext(spec, bad)).toThrow(/context\.current/);
    expect(() => restoreContext(spec, bad)).toThrow(/context\.current/);
  });

  it('restores the state value as the machine has it, a compound state by its child', () => {
    expect(restoreContext(spec, v2({ progressing: 'waitingForExposure' }))?.value).toEqual({ progressing: 'waitingForExposure' });
    expect(restoreSnapshot(spec, v2('progressing')).value).toEqual({ progressing: 'promoting' });
  });
});
