// Drives decide() against a simulated World: decide -> apply effects -> advance the clock, with optional
// operator operations. Returns every step for invariant checks and golden logs.
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { decide, type Decision } from '../../src/engine/decide.js';
import type { World } from '../../src/sim/world.js';

export interface Step {
  at: string;
  operation?: string;
  before: CanaryRolloutStatus | undefined;
  decision: Decision;
}

export function runSimulation(
  world: World,
  spec: CanaryRolloutSpec,
  opts: { maxSteps: number; stepMs: number; operator?: (step: number, status: CanaryRolloutStatus | undefined) => string | undefined },
): Step[] {
  const steps: Step[] = [];
  let status: CanaryRolloutStatus | undefined;
  for (let i = 0; i < opts.maxSteps; i++) {
    const op = opts.operator?.(i, status);
    const decision = decide({
      spec,
      generation: 1,
      status,
      ...(op ? { operation: { value: op, reason: 'simulated operator', actor: 'sim' } } : {}),
      observation: world.observation(),
      now: new Date(world.now),
    });
    steps.push({ at: new Date(world.now).toISOString(), ...(op ? { operation: op } : {}), before: status, decision });
    // the status goes through JSON, as it would through the API server
    status = JSON.parse(JSON.stringify(decision.status)) as CanaryRolloutStatus;
    world.apply(decision.effects);
    if (decision.requeueAfterMs === undefined) break;
    world.advance(decision.requeueAfterMs === 0 ? 1000 : opts.stepMs);
  }
  return steps;
}
