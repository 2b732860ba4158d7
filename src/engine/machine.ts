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
//
// This module is the graph; what a transition checks is in machine-guards.ts, what it records in
// machine-actions.ts, and the context it records into in machine-context.ts.
import { not, setup } from 'xstate';
import { actions } from './machine-actions.js';
import type { MachineTypes } from './machine-context.js';
import { guards } from './machine-guards.js';

/**
 * 2: the context records the seeds a halt holds (haltStops) and when a revert landed (revertedAt).
 * 3: the per-seed state is persisted as rows in the plan's order (seed-table.ts), to keep the status small.
 */
export const MACHINE_VERSION = 3;

export const rolloutMachine = setup({
  types: {} as MachineTypes,
  actions,
  guards,
}).createMachine({
  id: 'rollout',
  context: ({ input }) => ({ current: 0, waves: [], seeds: {}, accepted: [], history: [], ...input }),
  initial: 'pending',
  // operations not handled by the current state are recorded and otherwise ignored
  on: { OPERATION: { actions: 'ignoreOperation' } },
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
