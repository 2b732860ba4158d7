// The rollout machine's context (Ctx: what a transition records and the status persists) and its events. Every
// event carries an Evaluation, computed purely from the observed landscape (evaluate.ts), so guards and actions
// (machine-guards.ts, machine-actions.ts) only read it; the graph that wires them is machine.ts.
import type { OCIRepository } from '../api/fields.js';
import type { CanaryRolloutSpec, ExtensionStatus, HistoryEntry, Operation, Plan } from '../api/v1alpha1.js';
import type { GateResult } from './gate.js';
import type { Tally } from './health.js';

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

/** The machine's types, for xstate's setup(). */
export type MachineTypes = { context: Ctx; events: MachineEvent; input: Partial<Ctx> };

/** What a guard or an action is given. */
export type Params = { context: Ctx; event: MachineEvent };

/** The seeds planned into wave i, by name. */
export function seedsOfWave(ctx: Ctx, i: number): string[] {
  return Object.entries(ctx.seeds)
    .filter(([, s]) => s.wave === i)
    .map(([n]) => n)
    .sort();
}

/** The version a rollout rolls out (the schema requires exactly one target). */
export function targetVersion(spec: CanaryRolloutSpec): string {
  const target = spec.target.gardenlet ?? spec.target.extension;
  if (!target) throw new Error('spec.target names neither a gardenlet nor an extension');
  return target.version;
}
