// decide(): one reconcile step of a CanaryRollout, as a pure function of the spec, the persisted status, an
// optional operator operation, the observed landscape and `now`. Returns the new status, the events that record its
// transitions, when to look again, and notes saying why. What the rollout owes the garden is not decided here but
// derived from the persisted status on every reconcile (desired.ts). The machine state is restored from and
// persisted into the status (persisted.ts); an unknown version makes the engine stand still with a Degraded condition.
import { transition } from 'xstate';
import type { CanaryRolloutSpec, CanaryRolloutStatus, HistoryEntry, Phase } from '../api/v1alpha1.js';
import { FINAL_PHASES, Operation, OPERATIONS } from '../api/v1alpha1.js';
import { capText, MAX_MESSAGE_BYTES, MAX_OPERATION_BYTES, MAX_REASON_BYTES } from './bounds.js';
import type { Effect } from './effects.js';
import { desiredGarden, revertConflicts } from './desired.js';
import { endState } from './end.js';
import { evaluate, type Observation } from './evaluate.js';
import { awaitingFreshData, holdProgress } from './freshness.js';
import { inScope } from './planner.js';
import { MACHINE_VERSION, rolloutMachine } from './machine.js';
import { targetVersion, type Evaluation, type MachineEvent } from './machine-context.js';
import { machineVersionSupported, restoreSnapshot, type Snapshot } from './persisted.js';
import { buildStatus, condition, phaseOf, subState } from './status.js';
import { targetOf } from './targets/target.js';

export const POLL_MS = 30_000;
/** While inputs are stale, and while a bake waits for data confirmed after its end (a probe runs every 5 s). */
const STALE_POLL_MS = 5_000;
const FRESH_POLL_MS = 1_000;

export interface DecideInput {
  spec: CanaryRolloutSpec;
  generation: number;
  status?: CanaryRolloutStatus | undefined;
  /** The one-shot operation annotation, if set (the caller removes it once the decision is persisted). */
  operation?: { value: string; reason?: string; actor?: string } | undefined;
  observation: Observation;
  now: Date;
  /**
   * Seeds other rollouts of the same target hold (seed -> rollout): rollouts in flight hold their planned seeds,
   * older rollouts that have not started yet hold their scope. A rollout that has not started waits while any of
   * its in-scope seeds is held: one writer per seed.
   */
  heldSeeds?: ReadonlyMap<string, string> | undefined;
  /** Set while the rollout is being deleted and the deletion waits (deletion.ts): said in a condition. */
  deletionBlocked?: string | undefined;
}

export interface Decision {
  status: CanaryRolloutStatus;
  /** Kubernetes Events for the transitions of this step (best effort: the history is the record). */
  events: Extract<Effect, { type: 'emitEvent' }>[];
  /** Unit roots promoted (released) in this step, for metrics. */
  promoted: string[];
  /** Milliseconds until the next look; undefined when the rollout is finished. */
  requeueAfterMs: number | undefined;
  notes: string[];
}

export function decide(input: DecideInput): Decision {
  const { spec, generation, status, now } = input;
  const notes: string[] = [];

  // an unknown machine version: stand still, say so
  if (status && !machineVersionSupported(status)) {
    const msg = `status.machine.version ${status.machine?.version} is not understood by this controller (machine version ${MACHINE_VERSION}); taking no action`;
    const conditions = (status.conditions ?? []).filter((c) => c.type !== 'Degraded');
    conditions.push(condition(status.conditions, 'Degraded', 'True', 'UnknownMachineVersion', msg, now, generation));
    return { status: { ...status, conditions }, events: [], promoted: [], requeueAfterMs: undefined, notes: [msg] };
  }

  const snap = restoreSnapshot(spec, status);
  const ctx = snap.context;

  // one writer per seed: a rollout that has not started waits while another one holds any of its seeds
  const heldSeeds = input.heldSeeds;
  if (phaseOf(snap.value) === 'Pending' && heldSeeds?.size && !input.operation) {
    const held = input.observation.seeds
      .filter((s) => inScope(s, spec) && heldSeeds.has(s.name))
      .map((s) => s.name)
      .sort();
    if (held.length) {
      const holders = [...new Set(held.flatMap((n) => heldSeeds.get(n) ?? []))].sort();
      const msg = `waiting: rollout ${holders.join(', ')} holds ${held.length} of the seeds in scope (${held.slice(0, 5).join(', ')}${held.length > 5 ? ', ...' : ''})`;
      const base = buildStatus(snap, input, evaluate(ctx, spec, input.observation, now));
      const conditions = (base.conditions ?? []).filter((c) => c.type !== 'Waiting');
      conditions.push(condition(status?.conditions, 'Waiting', 'True', 'SeedsHeldByOtherRollout', msg, now, generation));
      return { status: { ...base, message: msg, conditions }, events: [], promoted: [], requeueAfterMs: POLL_MS, notes: [msg] };
    }
  }
  const ev: Evaluation = holdProgress(evaluate(ctx, spec, input.observation, now), input.observation.inputs, ctx.waves[ctx.current]?.bakeUntil);
  const nowIso = now.toISOString();

  let event: MachineEvent;
  if (input.operation) {
    const op = Operation.safeParse(input.operation.value);
    if (!op.success) {
      const shown = capText(input.operation.value, MAX_OPERATION_BYTES);
      notes.push(`unknown operation ${JSON.stringify(shown)} ignored (one of ${OPERATIONS.join(', ')})`);
      const history = [...ctx.history, { time: nowIso, kind: 'Operation' as const, event: shown, reason: 'Unknown', message: 'unknown operation ignored' }].slice(-100);
      const next = rolloutMachine.resolveState({ value: snap.value, context: { ...ctx, history } });
      return finish(snap, next, eventsFor(ctx.history, history, phaseOf(next.value), phaseOf(snap.value)), input, ev, notes, true);
    }
    event = { type: 'OPERATION', op: op.data, now: nowIso, spec, ev, ...(input.operation.reason ? { reason: capText(input.operation.reason, MAX_REASON_BYTES) } : {}), ...(input.operation.actor ? { actor: input.operation.actor } : {}) };
  } else {
    event = { type: 'OBSERVE', now: nowIso, spec, ev };
  }

  const [next] = transition(rolloutMachine, snap, event);
  const events = eventsFor(ctx.history, next.context.history, phaseOf(next.value), phaseOf(snap.value));
  if (phaseOf(next.value) === 'Progressing' && ['Planning', 'Planned'].includes(phaseOf(snap.value)) && next.context.plan) {
    events.unshift({ type: 'emitEvent', eventType: 'Normal', reason: 'RolloutStarted', message: `rolling out ${targetVersion(spec)} in ${next.context.plan.waves.length} waves` });
  }
  const before = phaseOf(snap.value);
  const after = phaseOf(next.value);
  if (before !== after || subState(snap.value) !== subState(next.value)) {
    notes.push(`${before}${subState(snap.value) ? `/${subState(snap.value)}` : ''} -> ${after}${subState(next.value) ? `/${subState(next.value)}` : ''}`);
  }
  if (ev.wave) notes.push(`wave ${ctx.waves[ev.wave.index]?.name ?? ev.wave.index}: ${ev.wave.gate.reason}`);
  return finish(snap, next, events, input, ev, notes, input.operation !== undefined);
}

function finish(prev: Snapshot, next: Snapshot, events: Decision['events'], input: DecideInput, ev: Evaluation, notes: string[], operation: boolean): Decision {
  const phase = phaseOf(next.value);
  const status = withEndState(withRevertConflicts(buildStatus(next, input, ev), input), phase, input);
  const promoted = Object.entries(next.context.seeds)
    .filter(([n, s]) => s.root === n && s.promotedAt && !prev.context.seeds[n]?.promotedAt)
    .map(([n]) => n)
    .sort();
  const moved = JSON.stringify(prev.value) !== JSON.stringify(next.value) || promoted.length > 0;
  let requeueAfterMs: number | undefined = POLL_MS;
  if (FINAL_PHASES.has(phase)) requeueAfterMs = undefined;
  else if (operation || (moved && phase !== 'Halted')) requeueAfterMs = 0;
  else if (phase === 'Progressing') {
    const w = next.context.waves[next.context.current];
    const until = [w?.bakeUntil, w?.deadline].filter((t): t is string => !!t).map((t) => Date.parse(t) - input.now.getTime()).filter((d) => d > 0);
    requeueAfterMs = Math.min(POLL_MS, ...until);
  }
  // held on stale or not yet confirmed data: look again as soon as a probe can have confirmed it
  const inputs = input.observation.inputs;
  if (requeueAfterMs !== undefined && inputs) {
    if (inputs.stale.length) requeueAfterMs = Math.min(requeueAfterMs, STALE_POLL_MS);
    else if (awaitingFreshData(inputs, next.context.waves[next.context.current]?.bakeUntil, input.now)) requeueAfterMs = Math.min(requeueAfterMs, FRESH_POLL_MS);
  }
  const verb = targetOf(input.spec).words.promote;
  for (const n of promoted) notes.push(`${verb} ${n}`);
  return { status, events, promoted, requeueAfterMs, notes };
}

/** Reason of condition Holding when deleting the rollout lets go of what it holds (stops, marks). */
export const HOLDING_RELEASED_BY_DELETION = 'DeletionReleasesIt';

/** A final phase says what the rollout still holds in the garden and what lets go of it (end.ts): message and condition Holding. */
function withEndState(status: CanaryRolloutStatus, phase: Phase, input: DecideInput): CanaryRolloutStatus {
  if (!FINAL_PHASES.has(phase)) return status;
  const end = endState(phase, status, desiredGarden(input.spec, status, input.observation));
  const held = condition(input.status?.conditions, 'Holding', end.holds ? 'True' : 'False', end.releasedByDeletion ? HOLDING_RELEASED_BY_DELETION : end.holds ? 'TemporaryObjectsLeft' : 'HoldsNothing', end.message, input.now, input.generation);
  return { ...status, message: capText(end.message, MAX_MESSAGE_BYTES), conditions: [...(status.conditions ?? []), held] };
}

/**
 * A revert writes only over the content the rollout put there; someone else's later edit stays, and is said here
 * (condition RevertBlocked) until it is resolved: put the previous content back by hand, or take the edit as final.
 */
function withRevertConflicts(status: CanaryRolloutStatus, input: DecideInput): CanaryRolloutStatus {
  if (status.phase !== 'RollingBack') return status;
  const conflicts = revertConflicts(desiredGarden(input.spec, status, input.observation), input.observation);
  if (!conflicts.length) return status;
  const msg = `${conflicts.join('; ')}; the rollout stays RollingBack until the previous content is back (restore it yourself if the other edit was a mistake)`;
  return { ...status, message: msg.slice(0, 1024), conditions: [...(status.conditions ?? []), condition(input.status?.conditions, 'RevertBlocked', 'True', 'ChangedBySomeoneElse', msg, input.now, input.generation)] };
}

/** A history entry as one line of text: its wave (unless its message names it already), its message, and who asked. */
export function historyText(h: HistoryEntry): string {
  const msg = h.message ?? '';
  return [h.wave && !msg.startsWith(`wave ${h.wave}`) ? `wave ${h.wave}` : '', msg].filter(Boolean).join(': ') + (h.actor ? ` (by ${h.actor})` : '');
}

/** Event reasons for operator operations, as stable UpperCamelCase words. */
const OPERATION_REASONS: Record<string, string> = { pause: 'Paused', resume: 'Resumed', abort: 'Aborted', promote: 'Promoted', retry: 'Retried' };

/**
 * One Kubernetes Event per new history entry (the history is the decision record; events make it visible to
 * `kubectl describe` and event pipelines), plus the final outcome. Reasons are stable UpperCamelCase words.
 */
export function eventsFor(before: readonly HistoryEntry[], after: readonly HistoryEntry[], phase: Phase, previous: Phase): Decision['events'] {
  const known = new Set(before.map((h) => `${h.time}|${h.kind}|${h.event}|${h.wave ?? ''}`));
  const out: Decision['events'] = [];
  for (const h of after) {
    if (known.has(`${h.time}|${h.kind}|${h.event}|${h.wave ?? ''}`)) continue;
    const warning = h.event === 'Halted' || h.event === 'ProgressDeadlineExceeded' || h.event === 'MaxHoldExceeded' || h.reason === 'NotAllowed' || h.reason === 'Unknown';
    const reason = h.kind === 'Operation' ? (h.reason ? 'OperationIgnored' : (OPERATION_REASONS[h.event] ?? 'Operation')) : h.event;
    out.push({ type: 'emitEvent', eventType: warning ? 'Warning' : 'Normal', reason, message: historyText(h) || h.event });
  }
  if (phase !== previous && (FINAL_PHASES.has(phase) || phase === 'RollingBack')) {
    out.push({ type: 'emitEvent', eventType: phase === 'Succeeded' ? 'Normal' : 'Warning', reason: phase === 'RollingBack' ? 'RollbackStarted' : phase, message: `rollout ${phase}` });
  }
  return out;
}
