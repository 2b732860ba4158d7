// Stale inputs stop progress, never protection. The caches the engine reads say when they were last confirmed to
// match the server (reflector.ts); a rollout reading a cache that has not been confirmed within the bound promotes
// nothing, passes no gate, ends no bake, plans nothing and finishes nothing, and says so (condition InputsStale).
// Everything that stops a rollout stays: a failing gate, a seed regression, a missed deadline, operations.
// A bake also ends only on data confirmed after its end: a watch that went quiet mid-bake cannot carry a wave past
// a window it did not observe.
import type { Evaluation } from './machine-context.js';

export interface InputFreshness {
  /** The oldest confirmation among the caches this rollout reads (epoch ms); undefined: one never synced. */
  freshAsOfMs: number | undefined;
  /** Caches not confirmed within the bound, with their last confirmation (undefined: never). */
  stale: { resource: string; confirmedAt: string | undefined }[];
}

/** Says which caches are stale, for a condition and a log line (it changes only when the stale set does: no status write per look). */
export function staleMessage(inputs: InputFreshness): string {
  const list = inputs.stale.map((s) => `${s.resource} (${s.confirmedAt === undefined ? 'never confirmed' : `last confirmed ${s.confirmedAt}`})`).join(', ');
  return `holding promotions, gate passes and bake ends: caches not confirmed fresh: ${list}; halts still apply`;
}

/** The evaluation with every step forward taken out while inputs are stale, and bake ends held until fresh data. */
export function holdProgress(ev: Evaluation, inputs: InputFreshness | undefined, bakeUntil: string | undefined): Evaluation {
  if (!inputs) return ev;
  if (inputs.stale.length) {
    const reason = staleMessage(inputs);
    const wave = ev.wave && {
      ...ev.wave,
      gate: ev.wave.gate.outcome === 'pass' ? { ...ev.wave.gate, outcome: 'inconclusive' as const, reason } : ev.wave.gate,
      toPromote: [],
      newlyReady: [],
      vanished: [],
      allReady: false,
      bakeDone: false,
    };
    const { plan: _plan, ...rest } = ev;
    return { ...rest, ...(wave ? { wave } : {}), handedBack: false, revertedAll: false };
  }
  // (an empty wave skips its bake: there was no window to observe)
  if (ev.wave?.bakeDone && !ev.wave.empty && bakeUntil !== undefined && (inputs.freshAsOfMs ?? 0) < Date.parse(bakeUntil)) {
    return { ...ev, wave: { ...ev.wave, bakeDone: false } };
  }
  return ev;
}

/** True while the bake has ended by the clock but the data has not been confirmed since: look again soon. */
export function awaitingFreshData(inputs: InputFreshness | undefined, bakeUntil: string | undefined, now: Date): boolean {
  if (!inputs || inputs.stale.length || bakeUntil === undefined) return false;
  const end = Date.parse(bakeUntil);
  return now.getTime() >= end && (inputs.freshAsOfMs ?? 0) < end;
}
