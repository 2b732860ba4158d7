// The rollout machine's actions: what a transition records in the context (decisions, times, history). Each is an
// assign over the context and the event alone; all time comes in as the event's `now`.
import { setup } from 'xstate';
import type { CanaryRolloutSpec, HistoryEntry, Plan } from '../api/v1alpha1.js';
import { MAX_HISTORY } from '../api/v1alpha1.js';
import { durationMs } from '../util/duration.js';
import type { GateResult } from './gate.js';
import { seedsOfWave, type Ctx, type GateSummary, type MachineEvent, type MachineTypes, type SeedState } from './machine-context.js';

// typed for this machine's context and events (machine.ts sets up the machine with the same types)
const { assign } = setup({ types: {} as MachineTypes });

function addHistory(ctx: Ctx, entry: HistoryEntry): HistoryEntry[] {
  return [...ctx.history, entry].slice(-MAX_HISTORY);
}

/** Clamped to the schema's bound, so a deadline or bake end is always a valid date. */
const ms = durationMs;

/** The spec of wave i. The API server keeps waves immutable; should they differ anyway, defaults apply. */
function waveSpec(spec: CanaryRolloutSpec, i: number): Partial<CanaryRolloutSpec['waves'][number]> & { name: string } {
  return spec.waves[i] ?? { name: `wave-${i}` };
}

/** Start wave i at `now`: deadline, baseline, history. */
function startWave(ctx: Ctx, spec: CanaryRolloutSpec, i: number, now: string, baseline: string[]): Ctx {
  const w = waveSpec(spec, i);
  const waves = ctx.waves.map((x, j) =>
    j === i ? { ...x, startedAt: now, deadline: new Date(Date.parse(now) + ms(w.progressDeadline ?? spec.progressDeadline)).toISOString(), baseline } : x,
  );
  return { ...ctx, current: i, waves, history: addHistory(ctx, { time: now, kind: 'Decision', event: 'WaveStarted', wave: w.name, message: `wave ${i + 1}/${spec.waves.length} ${w.name} started` }) };
}

export const actions = {
  recordPlan: assign(({ context, event }) => {
    const planned = event.ev.plan; // the hasPlan guard holds
    if (!planned) return {};
    const { plan, notes } = planned;
    const seeds: Record<string, SeedState> = {};
    plan.waves.forEach((w, i) => {
      for (const s of w.seeds) seeds[s.name] = { wave: i, root: event.spec.target.gardenlet && s.managedBy ? rootIn(w.seeds, s.name) : s.name };
    });
    return {
      plan,
      seeds,
      reason: undefined,
      ...(event.ev.extension ? { extension: event.ev.extension } : {}),
      waves: plan.waves.map((w) => ({ name: w.name, baseline: [] })),
      history: addHistory(context, {
        time: event.now,
        kind: 'Decision',
        event: 'Planned',
        message: [`${plan.seeds} seeds, ${plan.shoots} shoots in ${plan.waves.length} waves`, ...(event.ev.extension ? [`strategy ${event.ev.extension.strategy}: ${event.ev.extension.reason}`] : []), ...notes].join('; ').slice(0, 2000),
      }),
    };
  }),
  noteBlocked: assign(({ context, event }) => {
    const why = event.ev.blocked;
    if (!why || why === context.reason) return {};
    return { reason: why, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'Waiting', reason: event.ev.blockedReason ?? 'CannotPlan', message: why.slice(0, 2000) }) };
  }),
  startRollout: assign(({ context, event }) => startWave(context, event.spec, 0, event.now, event.ev.wave?.baseline ?? [])),
  recordCounts: assign(({ context, event }) => {
    const ev = event.ev;
    const waves = context.waves.map((w, i) => (ev.wave && i === ev.wave.index ? { ...w, tally: ev.wave.tally, gate: pickGate(ev.wave.gate) } : w));
    const seeds = { ...context.seeds };
    for (const n of ev.wave?.vanished ?? []) {
      const s = seeds[n];
      if (s) seeds[n] = { ...s, vanished: true };
    }
    stamp(seeds, 'notReadySince', new Set(ev.notReady), event.now);
    stamp(seeds, 'revisionSince', new Set(ev.atRevision), event.now);
    return { waves, seeds, overall: { ...pickGate(ev.overall), healthy: ev.overall.healthy } };
  }),
  recordReady: assign(({ context, event }) => {
    const seeds = { ...context.seeds };
    for (const n of event.ev.wave?.newlyReady ?? []) {
      const s = seeds[n]; // evaluate.ts names planned seeds only
      if (s) seeds[n] = { ...s, readyAt: event.now };
    }
    return { seeds };
  }),
  promoteBatch: assign(({ context, event }) => {
    const seeds = { ...context.seeds };
    const roots = new Set(event.ev.wave?.toPromote ?? []);
    for (const [name, s] of Object.entries(seeds)) {
      if (roots.has(s.root) && !s.promotedAt) {
        const previousRef = event.ev.refs[name];
        seeds[name] = { ...s, promotedAt: event.now, previousVersion: event.ev.versions[name], ...(previousRef ? { previousRef } : {}) };
      }
    }
    return { seeds };
  }),
  startBake: assign(({ context, event }) => {
    const i = context.current;
    const w = waveSpec(event.spec, i);
    const bake = context.waves[i]?.bakeSkipped ? 0 : ms(w.bake ?? event.spec.bake);
    const bakeEnd = Date.parse(event.now) + bake;
    const bakeUntil = new Date(bakeEnd).toISOString();
    // the deadline now guards the bake: a wave that keeps re-sampling after it has progressDeadline more, not for ever
    const deadline = new Date(bakeEnd + ms(w.progressDeadline ?? event.spec.progressDeadline)).toISOString();
    const waves = context.waves.map((x, j) => (j === i ? { ...x, exposedAt: event.now, bakeUntil, deadline } : x));
    return { waves, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'BakeStarted', wave: w.name, message: `${event.ev.wave?.gate.reason}; baking until ${bakeUntil}` }) };
  }),
  completeWave: assign(({ context, event }) => {
    const i = context.current;
    const waves = context.waves.map((x, j) => (j === i ? { ...x, finishedAt: event.now } : x));
    return { waves, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'WaveSucceeded', wave: waves[i]?.name, message: event.ev.wave?.gate.reason }) };
  }),
  nextWave: assign(({ context, event }) => startWave(context, event.spec, context.current + 1, event.now, event.ev.nextBaseline)),
  skipBake: assign(({ context, event }) => {
    const i = context.current;
    const waves = context.waves.map((x, j) => (j === i ? { ...x, bakeSkipped: true, ...(x.bakeUntil ? { bakeUntil: event.now } : {}) } : x));
    return { waves };
  }),
  halt: assign(({ context, event }) => {
    const ev = event.ev;
    const why =
      ev.wave?.gate.outcome === 'fail'
        ? `wave ${context.waves[context.current]?.name}: ${ev.wave.gate.reason}`
        : ev.overall.outcome === 'fail'
          ? `overall gate: ${ev.overall.reason}`
          : `seeds stopped being ready or their installations fail: ${ev.regressed.join(', ')}`;
    // the halted wave's seeds, and any failing seed of an earlier wave, keep Gardener's emergency stop until a
    // resume (latched in the status)
    const stops = event.spec.onHalt.emergencyStop ? [...seedsOfWave(context, context.current).filter((n) => !context.seeds[n]?.vanished), ...ev.regressed] : [];
    return {
      reason: why,
      haltStops: [...new Set([...(context.haltStops ?? []), ...stops])].sort(),
      history: addHistory(context, { time: event.now, kind: 'Decision', event: 'Halted', reason: 'GateFailed', wave: context.waves[context.current]?.name, message: why }),
    };
  }),
  liftEmergencyStop: assign({ haltStops: () => [] }),
  acceptFailures: assign(({ context, event }) => {
    const seeds = { ...context.seeds };
    for (const n of event.ev.regressed) {
      const s = seeds[n];
      if (!s) continue;
      const { readyAt: _dropped, notReadySince: _since, ...rest } = s;
      seeds[n] = rest; // must become ready again
    }
    return { accepted: [...new Set([...context.accepted, ...event.ev.overall.unhealthyKeys, ...(event.ev.wave?.unhealthyKeys ?? [])])].sort(), seeds };
  }),
  renewDeadline: assign(({ context, event }) => {
    const i = context.current;
    const w = waveSpec(event.spec, i);
    // a wave that bakes keeps its deadline after the bake's end (as startBake set it)
    const bakeUntil = context.waves[i]?.bakeUntil;
    const from = Math.max(Date.parse(event.now), bakeUntil ? Date.parse(bakeUntil) : 0);
    const waves = context.waves.map((x, j) => (j === i ? { ...x, deadline: new Date(from + ms(w.progressDeadline ?? event.spec.progressDeadline)).toISOString() } : x));
    return { waves };
  }),
  deadlineNote: assign(({ context, event }) => {
    const w = context.waves[context.current]; // the deadline guard saw the current wave
    if (!w) return {};
    const why = `wave ${w.name} missed its progress deadline ${w.deadline}: ${event.ev.wave?.gate.reason ?? ''}`;
    return { reason: why, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'ProgressDeadlineExceeded', wave: w.name, message: why }) };
  }),
  holdNote: assign(({ context, event }) => {
    const why = event.ev.holdExceeded; // the holdExceeded guard holds
    if (why === undefined) return {};
    return { reason: why, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'MaxHoldExceeded', wave: context.waves[context.current]?.name, message: why }) };
  }),
  /** A resume or retry: the operator accepts holding the seeds not released yet for another maxHold. */
  rearmHold: assign({ holdSince: ({ context, event }) => (context.extension?.strategy === 'ReconcileGate' ? event.now : context.holdSince) }),
  setReasonFromOperation: assign(({ event }) => ({ reason: event.type === 'OPERATION' ? `paused by operator${event.reason ? `: ${event.reason}` : ''}` : undefined })),
  clearReason: assign({ reason: () => undefined }),
  recordOperation: assign(({ context, event }) =>
    event.type === 'OPERATION' ? { history: addHistory(context, { time: event.now, kind: 'Operation', event: event.op, ...(event.reason ? { message: event.reason } : {}), ...actorOf(event) }) } : {},
  ),
  /** An operation the current state does not handle: recorded, otherwise ignored. */
  ignoreOperation: assign(({ context, event }) =>
    event.type === 'OPERATION'
      ? { history: addHistory(context, { time: event.now, kind: 'Operation', event: event.op, reason: 'NotAllowed', message: `${event.op} is not allowed in this phase; ignored`, ...actorOf(event) }) }
      : {},
  ),
  /** RevertAll landed: from now on the rollout holds nothing; released shoots are reconciled onto the old version. */
  finishRevert: assign({ revertedAt: ({ event }) => event.now }),
  handBack: assign(({ context, event }) => ({
    history: addHistory(context, { time: event.now, kind: 'Decision', event: 'HandingBack', message: `the original registration takes over with the new content; ${context.extension?.temporary?.registration} goes` }),
  })),
};

/** Sets `field` to `now` on the seeds in `on` that lack it, and drops it from every other seed. */
function stamp(seeds: Record<string, SeedState>, field: 'notReadySince' | 'revisionSince', on: ReadonlySet<string>, now: string): void {
  for (const [n, s] of Object.entries(seeds)) {
    if (on.has(n) && !s[field]) seeds[n] = { ...s, [field]: now };
    else if (!on.has(n) && s[field]) {
      const { [field]: _dropped, ...rest } = s;
      seeds[n] = rest;
    }
  }
}

function actorOf(event: MachineEvent): { actor?: string } {
  return event.type === 'OPERATION' && event.actor ? { actor: event.actor } : {};
}

function pickGate(g: GateResult): GateSummary {
  return { outcome: g.outcome, reason: g.reason, sample: g.sample, ...(g.unhealthyRatio !== undefined ? { unhealthyRatio: g.unhealthyRatio } : {}) };
}

/** The seed whose gardenlet carries a managed seed: up its managedBy chain within the wave. */
function rootIn(seeds: Plan['waves'][number]['seeds'], name: string): string {
  const byName = new Map(seeds.map((s) => [s.name, s]));
  let cur = byName.get(name);
  const seen = new Set<string>();
  while (cur?.managedBy && byName.has(cur.managedBy) && !seen.has(cur.name)) {
    seen.add(cur.name);
    cur = byName.get(cur.managedBy);
  }
  return cur?.name ?? name;
}
