// The rollout state machine (xstate v5), driven only through the pure transition(): no actors, no timers.
// Every event carries `now` and an Evaluation computed purely from the observed landscape (evaluate.ts), so the
// guards here are plain reads and all time is an input. Transitions record decisions (context, history); what
// the rollout owes the garden is derived from the persisted context on every reconcile (desired.ts), never
// emitted by a transition, so nothing depends on an effect having been applied exactly once.
//
//   pending --OBSERVE--> planning --OBSERVE--> planned (dryRun) | progressing
//   progressing: promoting -> waitingForExposure -> baking -> (next wave: promoting | succeeded)
//     gate fail / seed regression ------------------------------> halted   (latched)
//     progress deadline -----------------------------------------> paused (onProgressDeadline Pause) | failed
//     pause ------------------------------------------------------> paused
//     ReconcileGate held seeds longer than maxHold ----------------> paused
//   paused --resume--> progressing        halted --resume--> progressing (accepting the failures seen so far)
//   paused, failed --gate fails or a promoted seed regresses--> halted (a pause stops progress, not protection)
//   failed --retry--> progressing (new deadline)
//   any non-final --abort--> rollingBack (RevertAll and something promoted) | aborted
//   rollingBack --all reverted--> rolledBack
//   final: succeeded, aborted, rolledBack
import { assign, not, setup } from 'xstate';
import type { CanaryRolloutSpec, ExtensionStatus, HistoryEntry, OCIRepository, Operation, Plan } from '../api/v1alpha1.js';
import { MAX_HISTORY } from '../api/v1alpha1.js';
import { durationMs } from '../util/duration.js';
import type { GateResult } from './gate.js';
import type { Tally } from './health.js';

/**
 * 2: the context records the seeds a halt holds (haltStops) and when a revert landed (revertedAt).
 * 3: the per-seed state is persisted as rows in the plan's order (seed-table.ts), to keep the status small.
 */
export const MACHINE_VERSION = 3;

/** The part of a gate result kept in the status. */
export interface GateSummary {
  outcome: GateResult['outcome'];
  reason: string;
  sample: number;
  unhealthyRatio?: number;
}

export interface SeedState {
  wave: number;
  /** Unit root: the seed whose Gardenlet is promoted (itself for unmanaged seeds and extension targets). */
  root: string;
  promotedAt?: string;
  /** First time the seed was seen ready at the target after promotion. */
  readyAt?: string;
  previousVersion?: string;
  /** The Gardenlet chart before promotion (gardenlet targets), for RevertAll. */
  previousRef?: OCIRepository;
  vanished?: boolean;
  /** First look that saw the seed failing (not ready at the target, or its installation failing); cleared when it recovers. */
  notReadySince?: string;
  /** Extension targets: first look that saw the seed's installations at the new revision (their conditions settle after it). */
  revisionSince?: string;
}

export interface WaveState {
  name: string;
  startedAt?: string;
  deadline?: string;
  exposedAt?: string;
  bakeUntil?: string;
  finishedAt?: string;
  bakeSkipped?: boolean;
  /** Shoots already unhealthy when the wave started (keys namespace/name). */
  baseline: string[];
  tally?: Tally;
  gate?: GateSummary;
}

export interface Ctx {
  plan?: Plan;
  current: number;
  waves: WaveState[];
  seeds: Record<string, SeedState>;
  /** Failing shoots an operator accepted by resuming a halted rollout: they no longer count. */
  accepted: string[];
  overall?: GateSummary & { healthy: number };
  /**
   * Seeds whose emergency stop a halt holds (onHalt.emergencyStop): latched until a resume lifts it; kept through an
   * abort (Freeze keeps it until the rollout is deleted, RevertAll until the revert has landed).
   */
  haltStops?: string[];
  /** When RevertAll landed: shoots of released seeds that last reconciled before it are reconciled again. */
  revertedAt?: string;
  /** ReconcileGate with maxHold: the hold is counted from here (a resume or retry), else from the first wave's start. */
  holdSince?: string;
  reason?: string;
  /** Extension targets: the strategy taken and what it needs to undo (persisted as status.extension). */
  extension?: ExtensionStatus;
  history: HistoryEntry[];
}

/** Everything the guards need, computed purely from context, spec, observation and now (evaluate.ts). */
export interface Evaluation {
  plan?: { plan: Plan; notes: string[] };
  /** Why the rollout cannot be planned yet: a failed pre-flight check, or (extension targets) no possible strategy. */
  blocked?: string;
  /** The stable reason of `blocked` (condition Waiting), e.g. VersionSkew, ReconcileGateNotChosen. */
  blockedReason?: string;
  /** Extension targets, at planning: the strategy chosen. */
  extension?: ExtensionStatus;
  /** SeedSelector: the original registration carries the new version and the temporary one runs nowhere. */
  handedBack: boolean;
  /** ReconcileGate: seeds have been held longer than spec.target.extension.maxHold (why); the rollout pauses. */
  holdExceeded?: string;
  /** The current wave; absent when there is no plan or no wave left. */
  wave?: {
    index: number;
    gate: GateResult;
    tally: Tally;
    /** Roots to promote now, within maxConcurrentSeeds. */
    toPromote: string[];
    /** Promoted seeds seen ready at the target for the first time. */
    newlyReady: string[];
    /** Planned seeds of the wave that no longer exist or left the scope: skipped, never waited for. */
    vanished: string[];
    /** Every remaining seed of the wave is promoted and ready. */
    allReady: boolean;
    /** Counted unhealthy shoots now (what a resume accepts). */
    unhealthyKeys: string[];
    bakeDone: boolean;
    /** Nothing left to promote or count (no seeds planned, or all vanished): it passes and skips its bake. */
    empty: boolean;
    deadlinePassed: boolean;
    /** Unhealthy shoots on this wave's seeds now: its baseline if it starts now. */
    baseline: string[];
  };
  /** Seeds failing now (seedRegressions in evaluate.ts): their grace period runs from notReadySince. */
  notReady: string[];
  /** Seeds failing for longer than the grace period: they halt the rollout. */
  regressed: string[];
  /** Extension targets: seeds whose installations are all at the new revision now. */
  atRevision: string[];
  /** Baseline for the wave after the current one, if it starts now. */
  nextBaseline: string[];
  overall: GateResult & { healthy: number; unhealthyKeys: string[] };
  /** Promoted roots whose observed version is back at their previous version (RevertAll progress). */
  revertedAll: boolean;
  /** Seed versions observed now, for recording previousVersion at promotion. */
  versions: Record<string, string | undefined>;
  /** Gardenlet chart refs observed now (unmanaged seeds), for recording previousRef at promotion. */
  refs: Record<string, OCIRepository | undefined>;
}

export type MachineEvent =
  | { type: 'OBSERVE'; now: string; spec: CanaryRolloutSpec; ev: Evaluation }
  | { type: 'OPERATION'; op: Operation; reason?: string; actor?: string; now: string; spec: CanaryRolloutSpec; ev: Evaluation };

type Params = { context: Ctx; event: MachineEvent };

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

const isEv = (e: MachineEvent) => e.ev;

export const rolloutMachine = setup({
  types: { context: {} as Ctx, events: {} as MachineEvent, input: {} as Partial<Ctx> },
  actions: {
    recordPlan: assign(({ context, event }) => {
      const { plan, notes } = event.ev.plan!;
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
      const waves = context.waves.map((w, i) =>
        ev.wave && i === ev.wave.index ? { ...w, tally: ev.wave.tally, gate: pickGate(ev.wave.gate) } : w,
      );
      const seeds = { ...context.seeds };
      for (const n of ev.wave?.vanished ?? []) if (seeds[n]) seeds[n] = { ...seeds[n]!, vanished: true };
      stamp(seeds, 'notReadySince', new Set(ev.notReady), event.now);
      stamp(seeds, 'revisionSince', new Set(ev.atRevision), event.now);
      return { waves, seeds, overall: { ...pickGate(ev.overall), healthy: ev.overall.healthy } };
    }),
    recordReady: assign(({ context, event }) => {
      const seeds = { ...context.seeds };
      for (const n of event.ev.wave?.newlyReady ?? []) seeds[n] = { ...seeds[n]!, readyAt: event.now };
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
      const bake = context.waves[i]!.bakeSkipped ? 0 : ms(w.bake ?? event.spec.bake);
      const bakeUntil = Date.parse(event.now) + bake;
      // the deadline now guards the bake: a wave that keeps re-sampling after it has progressDeadline more, not for ever
      const deadline = new Date(bakeUntil + ms(w.progressDeadline ?? event.spec.progressDeadline)).toISOString();
      const waves = context.waves.map((x, j) => (j === i ? { ...x, exposedAt: event.now, bakeUntil: new Date(bakeUntil).toISOString(), deadline } : x));
      return { waves, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'BakeStarted', wave: w.name, message: `${event.ev.wave!.gate.reason}; baking until ${waves[i]!.bakeUntil}` }) };
    }),
    completeWave: assign(({ context, event }) => {
      const i = context.current;
      const waves = context.waves.map((x, j) => (j === i ? { ...x, finishedAt: event.now } : x));
      return { waves, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'WaveSucceeded', wave: waves[i]!.name, message: event.ev.wave!.gate.reason }) };
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
          ? `wave ${context.waves[context.current]!.name}: ${ev.wave.gate.reason}`
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
        const { readyAt: _dropped, notReadySince: _since, ...rest } = seeds[n]!;
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
      const w = context.waves[context.current]!;
      const why = `wave ${w.name} missed its progress deadline ${w.deadline}: ${event.ev.wave?.gate.reason ?? ''}`;
      return { reason: why, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'ProgressDeadlineExceeded', wave: w.name, message: why }) };
    }),
    holdNote: assign(({ context, event }) => {
      const why = event.ev.holdExceeded!;
      return { reason: why, history: addHistory(context, { time: event.now, kind: 'Decision', event: 'MaxHoldExceeded', wave: context.waves[context.current]?.name, message: why }) };
    }),
    /** A resume or retry: the operator accepts holding the seeds not released yet for another maxHold. */
    rearmHold: assign({ holdSince: ({ context, event }) => (context.extension?.strategy === 'ReconcileGate' ? event.now : context.holdSince) }),
    setReasonFromOperation: assign(({ event }) => ({ reason: event.type === 'OPERATION' ? `paused by operator${event.reason ? `: ${event.reason}` : ''}` : undefined })),
    clearReason: assign({ reason: () => undefined }),
    recordOperation: assign(({ context, event }) =>
      event.type === 'OPERATION'
        ? { history: addHistory(context, { time: event.now, kind: 'Operation', event: event.op, ...(event.reason ? { message: event.reason } : {}), ...actorOf(event) }) }
        : {},
    ),
    /** RevertAll landed: from now on the rollout holds nothing; released shoots are reconciled onto the old version. */
    finishRevert: assign({ revertedAt: ({ event }) => event.now }),
    handBack: assign(({ context, event }) => ({
      history: addHistory(context, { time: event.now, kind: 'Decision', event: 'HandingBack', message: `the original registration takes over with the new content; ${context.extension?.temporary?.registration} goes` }),
    })),
  },
  guards: {
    hasPlan: ({ event }: Params) => isEv(event).plan !== undefined,
    dryRun: ({ event }: Params) => event.spec.dryRun,
    halting: ({ event }: Params) => {
      const ev = isEv(event);
      return ev.overall.outcome === 'fail' || ev.wave?.gate.outcome === 'fail' || ev.regressed.length > 0;
    },
    deadline: ({ event }: Params) => !!isEv(event).wave?.deadlinePassed,
    holdExceeded: ({ event }: Params) => isEv(event).holdExceeded !== undefined,
    pauseOnDeadline: ({ event }: Params) => event.spec.onProgressDeadline === 'Pause',
    readyAndPassing: ({ event }: Params) => !!isEv(event).wave?.allReady && isEv(event).wave?.gate.outcome === 'pass',
    allReady: ({ event }: Params) => !!isEv(event).wave?.allReady,
    gatePass: ({ event }: Params) => isEv(event).wave?.gate.outcome === 'pass',
    waveDoneLast: ({ context, event }: Params) => isEv(event).wave?.gate.outcome === 'pass' && !!isEv(event).wave?.bakeDone && context.current >= event.spec.waves.length - 1,
    waveDone: ({ event }: Params) => isEv(event).wave?.gate.outcome === 'pass' && !!isEv(event).wave?.bakeDone,
    op: ({ event }: Params, params: { op: Operation }) => event.type === 'OPERATION' && event.op === params.op,
    revertNeeded: ({ context, event }: Params) =>
      event.spec.onHalt.rollback === 'RevertAll' && (context.extension ? context.waves[0]?.startedAt !== undefined : Object.values(context.seeds).some((s) => !!s.promotedAt)),
    seedSelectorLast: ({ context, event }: Params) =>
      !!context.extension?.temporary && isEv(event).wave?.gate.outcome === 'pass' && !!isEv(event).wave?.bakeDone && context.current >= event.spec.waves.length - 1,
    handedBack: ({ event }: Params) => isEv(event).handedBack,
    revertedAll: ({ event }: Params) => isEv(event).revertedAll,
  },
}).createMachine({
  id: 'rollout',
  context: ({ input }) => ({ current: 0, waves: [], seeds: {}, accepted: [], history: [], ...input }),
  initial: 'pending',
  on: {
    // operations not handled by the current state are recorded and otherwise ignored
    OPERATION: {
      actions: assign({
        history: ({ context, event }) =>
          addHistory(context, {
            time: event.now,
            kind: 'Operation',
            event: (event as Extract<MachineEvent, { type: 'OPERATION' }>).op,
            reason: 'NotAllowed',
            message: `${(event as Extract<MachineEvent, { type: 'OPERATION' }>).op} is not allowed in this phase; ignored`,
            ...actorOf(event),
          }),
      }),
    },
  },
  states: {
    pending: {
      on: {
        OBSERVE: [{ target: 'planning', guard: 'hasPlan', actions: 'recordPlan' }, { actions: 'noteBlocked' }],
        OPERATION: [{ guard: { type: 'op', params: { op: 'abort' } }, target: 'aborted', actions: 'recordOperation' }],
      },
    },
    planning: {
      on: {
        OBSERVE: [
          { guard: 'dryRun', target: 'planned' },
          { target: 'progressing', actions: ['startRollout'] },
        ],
        OPERATION: [{ guard: { type: 'op', params: { op: 'abort' } }, target: 'aborted', actions: 'recordOperation' }],
      },
    },
    planned: {
      on: {
        OBSERVE: { guard: not('dryRun'), target: 'progressing', actions: ['startRollout'] },
        OPERATION: [{ guard: { type: 'op', params: { op: 'abort' } }, target: 'aborted', actions: 'recordOperation' }],
      },
    },
    progressing: {
      initial: 'promoting',
      on: {
        OPERATION: [
          { guard: { type: 'op', params: { op: 'pause' } }, target: 'paused', actions: ['recordOperation', 'setReasonFromOperation'] },
          { guard: { type: 'op', params: { op: 'abort' } }, target: 'aborting', actions: 'recordOperation' },
          { guard: { type: 'op', params: { op: 'promote' } }, actions: ['recordOperation', 'skipBake'] },
        ],
      },
      states: {
        hist: { type: 'history', history: 'shallow' },
        promoting: {
          on: {
            OBSERVE: [
              { guard: 'halting', target: '#rollout.halted', actions: ['recordCounts', 'halt'] },
              { guard: 'holdExceeded', target: '#rollout.paused', actions: ['recordCounts', 'holdNote'] },
              { guard: 'deadline', target: '#rollout.deadlineMissed', actions: ['recordCounts'] },
              { guard: 'readyAndPassing', target: 'baking', actions: ['recordCounts', 'recordReady', 'startBake'] },
              { guard: 'allReady', target: 'waitingForExposure', actions: ['recordCounts', 'recordReady'] },
              { actions: ['recordCounts', 'recordReady', 'promoteBatch'] },
            ],
          },
        },
        waitingForExposure: {
          on: {
            OBSERVE: [
              { guard: 'halting', target: '#rollout.halted', actions: ['recordCounts', 'halt'] },
              { guard: 'holdExceeded', target: '#rollout.paused', actions: ['recordCounts', 'holdNote'] },
              { guard: 'gatePass', target: 'baking', actions: ['recordCounts', 'startBake'] },
              { guard: 'deadline', target: '#rollout.deadlineMissed', actions: ['recordCounts'] },
              { actions: ['recordCounts'] },
            ],
          },
        },
        baking: {
          on: {
            OBSERVE: [
              { guard: 'halting', target: '#rollout.halted', actions: ['recordCounts', 'halt'] },
              { guard: 'holdExceeded', target: '#rollout.paused', actions: ['recordCounts', 'holdNote'] },
              { guard: 'seedSelectorLast', target: '#rollout.completing', actions: ['recordCounts', 'completeWave', 'handBack'] },
              { guard: 'waveDoneLast', target: '#rollout.succeeded', actions: ['recordCounts', 'completeWave'] },
              { guard: 'waveDone', target: 'promoting', reenter: true, actions: ['recordCounts', 'completeWave', 'nextWave'] },
              { guard: 'deadline', target: '#rollout.deadlineMissed', actions: ['recordCounts'] },
              { actions: ['recordCounts'] },
            ],
          },
        },
      },
    },
    deadlineMissed: {
      always: [
        { guard: 'pauseOnDeadline', target: 'paused', actions: 'deadlineNote' },
        { target: 'failed', actions: 'deadlineNote' },
      ],
    },
    // a pause (or a missed deadline) stops progress, never protection: the gate still halts a wave that goes bad
    paused: {
      on: {
        OBSERVE: [{ guard: 'halting', target: 'halted', actions: ['recordCounts', 'halt'] }, { actions: 'recordCounts' }],
        OPERATION: [
          { guard: { type: 'op', params: { op: 'resume' } }, target: 'progressing.hist', actions: ['recordOperation', 'renewDeadline', 'rearmHold', 'clearReason'] },
          { guard: { type: 'op', params: { op: 'abort' } }, target: 'aborting', actions: 'recordOperation' },
        ],
      },
    },
    halted: {
      on: {
        OBSERVE: { actions: 'recordCounts' },
        OPERATION: [
          { guard: { type: 'op', params: { op: 'resume' } }, target: 'progressing.hist', actions: ['recordOperation', 'acceptFailures', 'liftEmergencyStop', 'renewDeadline', 'rearmHold', 'clearReason'] },
          { guard: { type: 'op', params: { op: 'abort' } }, target: 'aborting', actions: 'recordOperation' },
        ],
      },
    },
    failed: {
      on: {
        OBSERVE: [{ guard: 'halting', target: 'halted', actions: ['recordCounts', 'halt'] }, { actions: 'recordCounts' }],
        OPERATION: [
          { guard: { type: 'op', params: { op: 'retry' } }, target: 'progressing.hist', actions: ['recordOperation', 'renewDeadline', 'rearmHold', 'clearReason'] },
          { guard: { type: 'op', params: { op: 'abort' } }, target: 'aborting', actions: 'recordOperation' },
        ],
      },
    },
    aborting: {
      always: [{ guard: 'revertNeeded', target: 'rollingBack' }, { target: 'aborted' }],
    },
    rollingBack: {
      on: {
        OBSERVE: [{ guard: 'revertedAll', target: 'rolledBack', actions: ['recordCounts', 'finishRevert'] }, { actions: 'recordCounts' }],
      },
    },
    // SeedSelector: the original registration takes over with the new content before the temporary one goes
    completing: {
      on: {
        OBSERVE: [{ guard: 'handedBack', target: 'succeeded', actions: ['recordCounts'] }, { actions: 'recordCounts' }],
      },
    },
    rolledBack: { type: 'final' },
    aborted: { type: 'final' },
    succeeded: { type: 'final' },
  },
});

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

export function seedsOfWave(ctx: Ctx, i: number): string[] {
  return Object.entries(ctx.seeds)
    .filter(([, s]) => s.wave === i)
    .map(([n]) => n)
    .sort();
}

export function targetVersion(spec: CanaryRolloutSpec): string {
  return spec.target.gardenlet?.version ?? spec.target.extension!.version;
}
