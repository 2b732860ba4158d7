// The machine state as the status persists it (status.machine), and its restore: one module, so the engine, the
// convergence (desired.ts) and the tools read it the same way. Version 1 (before haltStops) is migrated on read;
// version 3 keeps the per-seed state as rows in the plan's order (seed-table.ts), versions 1 and 2 as an object per seed.
import { initialTransition } from 'xstate';
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../api/v1alpha1.js';
import { MACHINE_VERSION, rolloutMachine, seedsOfWave, type Ctx } from './machine.js';
import { decodeSeedTable, encodeSeedTable, type SeedTable } from './seed-table.js';

export type Snapshot = ReturnType<typeof rolloutMachine.resolveState>;
/** The context as persisted: plan, history and extension live in their own status fields. */
export type PersistedContext = Omit<Ctx, 'plan' | 'history' | 'extension'>;

interface PersistedState<C = PersistedContext> {
  value: Snapshot['value'];
  context: C;
  historyValue?: Record<string, string[]>;
}

/** Version 3 as stored: the seeds as a table. */
type StoredContext = Omit<PersistedContext, 'seeds'> & { seeds: SeedTable };

export const SUPPORTED_MACHINE_VERSIONS: ReadonlySet<number> = new Set([1, 2, MACHINE_VERSION]);

export function machineVersionSupported(status: CanaryRolloutStatus | undefined): boolean {
  return !status?.machine || SUPPORTED_MACHINE_VERSIONS.has(status.machine.version);
}

/**
 * Version 1 did not record the seeds a halt stops; they were the current wave's while halted, and stayed stopped
 * through an abort that followed a halt (unless a resume came in between).
 */
function migrateV1(spec: CanaryRolloutSpec, status: CanaryRolloutStatus, ctx: PersistedContext): PersistedContext {
  if (ctx.haltStops || !spec.onHalt.emergencyStop) return ctx;
  const history = status.history ?? [];
  const lastHalt = history.map((h) => h.event).lastIndexOf('Halted');
  const lastResume = history.findLastIndex((h) => h.kind === 'Operation' && h.event === 'resume' && !h.reason);
  const halted = status.phase === 'Halted' || (lastHalt >= 0 && lastHalt > lastResume && ['Aborted', 'RollingBack'].includes(status.phase ?? ''));
  return { ...ctx, haltStops: halted ? seedsOfWave({ ...ctx, history: [] }, ctx.current).filter((n) => !ctx.seeds[n]?.vanished) : [] };
}

function persistedState(spec: CanaryRolloutSpec, status: CanaryRolloutStatus): PersistedState {
  const version = status.machine!.version;
  if (version === MACHINE_VERSION) {
    const state = status.machine!.state as unknown as PersistedState<StoredContext>;
    return { ...state, context: { ...state.context, seeds: decodeSeedTable(state.context.seeds, status.plan) } };
  }
  const state = status.machine!.state as unknown as PersistedState;
  return version === 1 ? { ...state, context: migrateV1(spec, status, state.context) } : state;
}

/** The full context (with plan, history and extension) and the state value, without xstate; undefined before planning. */
export function restoreContext(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined): { ctx: Ctx; value: Snapshot['value'] } | undefined {
  if (!status?.machine || !machineVersionSupported(status)) return undefined;
  const state = persistedState(spec, status);
  return { value: state.value, ctx: fullContext(state.context, status) };
}

function fullContext(context: PersistedContext, status: CanaryRolloutStatus): Ctx {
  return { ...context, ...(status.plan ? { plan: status.plan } : {}), ...(status.extension ? { extension: status.extension } : {}), history: status.history ?? [] };
}

/** The xstate snapshot for transition(). */
export function restoreSnapshot(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined): Snapshot {
  if (!status?.machine) return initialTransition(rolloutMachine, {})[0];
  const state = persistedState(spec, status);
  const snap = rolloutMachine.resolveState({ value: state.value, context: fullContext(state.context, status) });
  // the shallow history state of `progressing` (for resume) is part of the persisted state: node ids, revived here
  if (state.historyValue) {
    const revived: Record<string, unknown[]> = {};
    for (const [k, ids] of Object.entries(state.historyValue)) revived[k] = ids.map((id) => rolloutMachine.getStateNodeById(id));
    (snap as unknown as { historyValue: unknown }).historyValue = revived;
  }
  return snap;
}

/** status.machine for a snapshot. */
export function persistSnapshot(snap: Snapshot): NonNullable<CanaryRolloutStatus['machine']> {
  const { plan, history: _history, extension: _extension, seeds, ...rest } = snap.context;
  const context: StoredContext = { ...rest, seeds: encodeSeedTable(seeds, plan) };
  const hv = (snap as unknown as { historyValue?: Record<string, { id: string }[]> }).historyValue;
  const historyValue = hv && Object.keys(hv).length ? Object.fromEntries(Object.entries(hv).map(([k, nodes]) => [k, nodes.map((n) => n.id)])) : undefined;
  const state: PersistedState<StoredContext> = { value: snap.value, context, ...(historyValue ? { historyValue } : {}) };
  return { version: MACHINE_VERSION, state: state as unknown as Record<string, unknown> };
}
