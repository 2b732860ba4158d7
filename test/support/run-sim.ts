// Drives decide() against a simulated World the way the controller does: decide -> persist the status (through JSON
// with sorted keys, as the API server returns it) -> converge the world to what the persisted status owes it ->
// advance the clock, with optional operator operations and injected faults:
// - a crash right after the status write: nothing is converged in that step;
// - a write that fails: convergence stops there (the executor stops at the first error), the write applied or not.
// Returns every step for invariant checks and golden logs.
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { decide, type Decision } from '../../src/engine/decide.js';
import { convergeEffects, desiredGarden, type DesiredGarden } from '../../src/engine/desired.js';
import type { Effect } from '../../src/engine/effects.js';
import type { InputFreshness } from '../../src/engine/freshness.js';
import { rng, type World } from '../../src/sim/world.js';

export interface Step {
  at: string;
  operation?: string;
  before: CanaryRolloutStatus | undefined;
  decision: Decision;
  /** What the persisted status owes the garden, and the writes that converge it (as applied: cut short by a fault). */
  desired: DesiredGarden;
  applied: Effect[];
  /** The world's real changes from this step's convergence (World.changes.log). */
  changes: string[];
  /** The fault injected in this step, if any. */
  fault?: 'crash' | 'writeFailed';
}

export interface FaultRates {
  /** Probability that the process dies right after the status write. */
  crash: number;
  /** Probability that a convergence pass fails at a random write (applied or not). */
  writeFails: number;
  seed: number;
}

/** JSON with sorted keys, as the API server serialises objects. */
export function sortedJSON(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedJSON);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, sortedJSON(x)]));
  return v;
}

export function runSimulation(
  world: World,
  spec: CanaryRolloutSpec,
  opts: {
    maxSteps: number;
    stepMs: number;
    operator?: (step: number, status: CanaryRolloutStatus | undefined) => string | undefined;
    faults?: FaultRates;
    /** How fresh the controller's caches would be at this step (freshness.ts); default: not tracked. */
    inputs?: (step: number, now: number) => InputFreshness | undefined;
    /** Called right after each step's convergence, before the clock advances. */
    afterStep?: (step: Step, index: number) => void;
  },
): Step[] {
  const steps: Step[] = [];
  const r = opts.faults ? rng(opts.faults.seed) : undefined;
  let status: CanaryRolloutStatus | undefined;
  for (let i = 0; i < opts.maxSteps; i++) {
    const op = opts.operator?.(i, status);
    const before = status;
    const inputs = opts.inputs?.(i, world.now);
    const observation = inputs ? { ...world.observation(), inputs } : world.observation();
    const decision = decide({
      spec,
      generation: 1,
      status,
      ...(op ? { operation: { value: op, reason: 'simulated operator', actor: 'sim' } } : {}),
      observation,
      now: new Date(world.now),
    });
    // the status goes through the API server: JSON, keys sorted
    status = JSON.parse(JSON.stringify(sortedJSON(decision.status))) as CanaryRolloutStatus;
    const desired = desiredGarden(spec, status, observation);
    const all = convergeEffects(desired);
    let applied = all;
    let fault: Step['fault'];
    if (r && r() < opts.faults!.crash) {
      fault = 'crash';
      applied = [];
    } else if (r && all.length && r() < opts.faults!.writeFails) {
      fault = 'writeFailed';
      // the failing write may or may not have reached the server
      applied = all.slice(0, Math.floor(r() * all.length) + (r() < 0.5 ? 1 : 0));
    }
    const logged = world.changes.log.length;
    world.apply(applied);
    const changes = world.changes.log.slice(logged);
    const step: Step = { at: new Date(world.now).toISOString(), ...(op ? { operation: op } : {}), before, decision, desired, applied, changes, ...(fault ? { fault } : {}) };
    steps.push(step);
    opts.afterStep?.(step, i);
    if (decision.requeueAfterMs === undefined && !fault && !desired.reconciles.owed.length) break;
    world.advance(decision.requeueAfterMs === 0 ? 1000 : opts.stepMs);
  }
  return steps;
}
