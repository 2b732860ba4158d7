// The machine state as the status persists it (status.machine), and its restore: one module, so the engine, the
// convergence (desired.ts) and the tools read it the same way. Version 1 (before haltStops) is migrated on read;
// version 3 keeps the per-seed state as rows in the plan's order (seed-table.ts), versions 1 and 2 as an object per seed.
import { initialTransition, type AnyStateNode, type HistoryValue } from 'xstate';
import * as z from 'zod';
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../api/v1alpha1.js';
import type { GateOutcome } from './gate.js';
import type { ExclusionReason, Tally } from './health.js';
import { seedsOfWave, type Ctx, type GateSummary, type MachineEvent, type SeedState, type WaveState } from './machine-context.js';
import { MACHINE_VERSION, rolloutMachine } from './machine.js';
import { decodeSeedTable, encodeSeedTable, type SeedTable } from './seed-table.js';

export type Snapshot = ReturnType<typeof rolloutMachine.resolveState>;
/** The context as persisted: plan, history and extension live in their own status fields. */
export type PersistedContext = Omit<Ctx, 'plan' | 'history' | 'extension'>;

// ---------------------------------------------------------------------------------------------------------
// The stored forms. The CRD keeps status.machine free-form (older controllers wrote it), so it is parsed here. What
// a controller wrote is carried on as it was: objects are loose (a field this version does not know is kept, as the
// seed table keeps it), times are plain strings (the seed table keeps a time not in the engine's own form whole).

/** Every field of T, each with its schema: a field added to T and not here does not compile. */
type Shape<T> = { [K in keyof Required<T>]: z.ZodType };

const time = z.string();
const names = z.array(z.string());
const GATE_OUTCOMES = ['pass', 'fail', 'inconclusive'] as const satisfies readonly GateOutcome[];

const gateSummary = z.looseObject({ outcome: z.enum(GATE_OUTCOMES), reason: z.string(), sample: z.number(), unhealthyRatio: z.number().optional() } satisfies Shape<GateSummary>);

const excluded = { hibernated: z.number(), userError: z.number(), baselineUnhealthy: z.number(), accepted: z.number(), deleting: z.number(), progressing: z.number(), unknown: z.number() } satisfies Shape<Record<ExclusionReason, number>>;
const tally = z.looseObject({ shoots: z.number(), exposed: z.number(), healthy: z.number(), unhealthy: z.number(), excluded: z.looseObject(excluded) } satisfies Shape<Tally>);

/** A chart as observed on a Gardenlet before promotion: Gardener's OCIRepository, with whatever else it carried (pullSecretRef). */
const chartRef = z.looseObject({ ref: z.string().optional(), repository: z.string().optional(), tag: z.string().optional(), digest: z.string().optional() });

const seedState = z.looseObject({
  wave: z.int(),
  root: z.string(),
  promotedAt: time.optional(),
  readyAt: time.optional(),
  previousVersion: z.string().optional(),
  previousRef: chartRef.optional(),
  vanished: z.boolean().optional(),
  notReadySince: time.optional(),
  revisionSince: time.optional(),
} satisfies Shape<SeedState>);

const waveState = z.looseObject({
  name: z.string(),
  startedAt: time.optional(),
  deadline: time.optional(),
  exposedAt: time.optional(),
  bakeUntil: time.optional(),
  finishedAt: time.optional(),
  bakeSkipped: z.boolean().optional(),
  baseline: names,
  tally: tally.optional(),
  gate: gateSummary.optional(),
} satisfies Shape<WaveState>);

const seedTable = z.looseObject({
  epoch: time,
  previous: z.array(z.looseObject({ version: z.string().optional(), ref: chartRef.optional() })).optional(),
  rows: z.array(z.array(z.number().nullable()).nullable()),
  roots: z.record(z.string(), z.string()).optional(),
  other: z.record(z.string(), seedState).optional(),
} satisfies Shape<SeedTable>);

/** The context but for the seeds, the same in every version (what version 2 added is optional). */
const contextShape = {
  current: z.int(),
  waves: z.array(waveState),
  accepted: names,
  overall: gateSummary.extend({ healthy: z.number() }).optional(),
  haltStops: names.optional(),
  revertedAt: time.optional(),
  holdSince: time.optional(),
  reason: z.string().optional(),
} satisfies Shape<Omit<PersistedContext, 'seeds'>>;

/** A state value of this machine: a path of state nodes it has (resolveState throws on any other). */
function isStateValue(v: unknown, node: AnyStateNode = rolloutMachine.root): v is Snapshot['value'] {
  const child = (key: string) => (Object.hasOwn(node.states, key) ? node.states[key] : undefined);
  if (typeof v === 'string') return (child(v)?.type ?? 'history') !== 'history';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  const [entry] = entries;
  if (!entry || entries.length !== 1) return false; // no parallel states here
  const sub = child(entry[0]);
  return sub?.type === 'compound' && isStateValue(entry[1], sub);
}

const stateOf = <C extends z.ZodType>(context: C) =>
  z.looseObject({
    value: z.custom<Snapshot['value']>((v) => isStateValue(v), { error: 'not a state of the rollout machine' }),
    context,
    /** The shallow history state of `progressing` (for resume): node ids per history node. */
    historyValue: z.record(z.string(), names).optional(),
  });

/** Versions 1 and 2: an object per seed. Version 1 lacks haltStops (migrated on read) and revertedAt. */
const StateV2 = stateOf(z.looseObject({ ...contextShape, seeds: z.record(z.string(), seedState) } satisfies Shape<PersistedContext>));
/** Version 3: the seeds as a table (seed-table.ts). */
const StateV3 = stateOf(z.looseObject({ ...contextShape, seeds: seedTable }));

/** status.machine as this version writes it. */
export interface PersistedMachine {
  version: typeof MACHINE_VERSION;
  state: { value: Snapshot['value']; context: Omit<PersistedContext, 'seeds'> & { seeds: SeedTable }; historyValue?: Record<string, string[]> };
}

export const SUPPORTED_MACHINE_VERSIONS: ReadonlySet<number> = new Set([1, 2, MACHINE_VERSION]);

export function machineVersionSupported(status: CanaryRolloutStatus | undefined): boolean {
  return !status?.machine || SUPPORTED_MACHINE_VERSIONS.has(status.machine.version);
}

// ---------------------------------------------------------------------------------------------------------
// Restore

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

interface PersistedState {
  value: Snapshot['value'];
  context: PersistedContext;
  historyValue?: Record<string, string[]> | undefined;
}

/**
 * Stored states already parsed, by the object they were parsed from: one reconcile restores the same status in
 * decide() and in desiredGarden(), and the cache hands the same object to every reconcile until the rollout changes,
 * so each stored state is parsed once (the parse copies every wave and seed row).
 */
const parsedV2 = new WeakMap<object, z.output<typeof StateV2>>();
const parsedV3 = new WeakMap<object, z.output<typeof StateV3>>();

/** The persisted state of a supported version, parsed and in this version's form; it throws on a malformed one. */
function persistedState(spec: CanaryRolloutSpec, status: CanaryRolloutStatus, machine: NonNullable<CanaryRolloutStatus['machine']>): PersistedState {
  const parse = <S extends z.ZodType>(schema: S, parsed: WeakMap<object, z.output<S>>): z.output<S> => {
    const known = parsed.get(machine.state);
    if (known !== undefined) return known;
    const r = schema.safeParse(machine.state);
    if (!r.success) throw new Error(`status.machine (version ${machine.version}) is malformed: ${z.prettifyError(r.error)}`);
    parsed.set(machine.state, r.data);
    return r.data;
  };
  switch (machine.version) {
    case MACHINE_VERSION: {
      const state = parse(StateV3, parsedV3);
      return { ...state, context: { ...state.context, seeds: decodeSeedTable(state.context.seeds, status.plan) } };
    }
    case 2:
      return parse(StateV2, parsedV2);
    case 1: {
      const state = parse(StateV2, parsedV2);
      return { ...state, context: migrateV1(spec, status, state.context) };
    }
    default:
      throw new Error(`status.machine.version ${machine.version} is not supported`);
  }
}

/** The full context (with plan, history and extension) and the state value, without xstate; undefined before planning. */
export function restoreContext(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined): { ctx: Ctx; value: Snapshot['value'] } | undefined {
  if (!status?.machine || !machineVersionSupported(status)) return undefined;
  const state = persistedState(spec, status, status.machine);
  return { value: state.value, ctx: fullContext(state.context, status) };
}

function fullContext(context: PersistedContext, status: CanaryRolloutStatus): Ctx {
  return { ...context, ...(status.plan ? { plan: status.plan } : {}), ...(status.extension ? { extension: status.extension } : {}), history: status.history ?? [] };
}

/** The xstate snapshot for transition(). */
export function restoreSnapshot(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined): Snapshot {
  if (!status?.machine) return initialTransition(rolloutMachine, {})[0];
  const state = persistedState(spec, status, status.machine);
  // the history state is persisted as node ids (getStateNodeById throws on an id this machine does not have)
  const historyValue: HistoryValue<Ctx, MachineEvent> | undefined = state.historyValue
    ? Object.fromEntries(Object.entries(state.historyValue).map(([k, ids]) => [k, ids.map((id) => rolloutMachine.getStateNodeById(id))]))
    : undefined;
  return rolloutMachine.resolveState({ value: state.value, context: fullContext(state.context, status), historyValue });
}

// ---------------------------------------------------------------------------------------------------------
// Persist

/** status.machine for a snapshot. */
export function persistSnapshot(snap: Snapshot): PersistedMachine {
  const { plan, history: _history, extension: _extension, seeds, ...rest } = snap.context;
  const context = { ...rest, seeds: encodeSeedTable(seeds, plan) };
  const hv = snap.historyValue;
  const historyValue = Object.keys(hv).length ? Object.fromEntries(Object.entries(hv).map(([k, nodes]) => [k, nodes.map((n) => n.id)])) : undefined;
  return { version: MACHINE_VERSION, state: { value: snap.value, context, ...(historyValue ? { historyValue } : {}) } };
}
