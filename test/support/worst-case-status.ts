// A CanaryRollout status at worst-case lengths, for the status budget (src/engine/bounds.ts): built by the engine's
// own buildStatus from a machine context whose every field is at its longest.
import { CanaryRolloutSpec, MAX_HISTORY, type CanaryRolloutStatus, type HistoryEntry, type Plan } from '../../src/api/v1alpha1.js';
import { MAX_WAVES } from '../../src/api/waves.js';
import { MAX_DETAIL_BYTES, MAX_HISTORY_MESSAGE_BYTES } from '../../src/engine/bounds.js';
import type { DecideInput } from '../../src/engine/decide.js';
import { buildStatus } from '../../src/engine/status.js';
import { evaluateGate } from '../../src/engine/gate.js';
import { rolloutMachine } from '../../src/engine/machine.js';
import { type Ctx, type Evaluation, type SeedState, type WaveState } from '../../src/engine/machine-context.js';

const NOW = new Date('2026-03-04T05:06:07.890Z');
const ISO = NOW.toISOString(); // with milliseconds: the longest form the engine writes

/** A DNS label of exactly 63 characters, unique by `i`. */
export const label63 = (prefix: string, i: number) => `${prefix}${i}-`.padEnd(63, 'x');
const text = (n: number) => 'x'.repeat(n);
export const VERSION = `v1.150.0-${text(128 - 9)}`; // 128 bytes, what seeds report and the target says
/** The longest shoot key: a namespace of 63, project and shoot name of at most 21 together (Gardener). */
export const LONGEST_SHOOT_KEY = `${label63('n', 0)}/${text(20)}`;

/** A gardenlet rollout with the longest target chart and version. */
export function worstCaseSpec(): CanaryRolloutSpec {
  return CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: text(1024) }, version: VERSION } },
    waves: [{ name: 'canary', count: 1 }, { name: 'rest', percent: 100 }],
  });
}

export const PREVIOUS_REF = { repository: text(1024), tag: text(128), digest: `sha256:${'a'.repeat(64)}`, pullSecretRef: { name: text(253) } };
/** The longest previous chart, distinct by `i`. */
export const previousRef = (i: number) => ({ ...PREVIOUS_REF, repository: `${i}-`.padEnd(1024, 'x') });
/** Long before NOW: the seed table's times (milliseconds after the plan) at their longest. */
const PLANNED = '2000-01-01T00:00:00.000Z';

function longestGateReason(): string {
  const reasons: string[] = [];
  for (const confidence of [undefined, { method: 'Wilson' as const, level: 0.999999 }]) {
    for (const [healthy, unhealthy] of [[999_999_999, 999_999_999], [1, 999_999_999], [999_999_999, 0], [0, 0]] as const) {
      reasons.push(evaluateGate({ healthy, unhealthy }, { maxUnhealthyRatio: 0.123456789, minSampleSize: 100_000, confidence }).reason);
    }
  }
  const longest = reasons.sort((a, b) => b.length - a.length)[0]!;
  return `${longest} (the wave has only 999999999 countable shoots: lower its minSampleSize or the deadline will stop it)`;
}

/** A status of `n` planned seeds with every field at its longest, the history full, the conditions at their caps. */
export function worstCaseStatus(n: number, shootKeys = 0): CanaryRolloutStatus {
  const reason = longestGateReason();
  const gate = { outcome: 'inconclusive' as const, reason, sample: 999_999_999, unhealthyRatio: 0.123456789012345 };
  const tally = { shoots: 999_999_999, exposed: 999_999_999, healthy: 999_999_999, unhealthy: 999_999_999, excluded: { hibernated: 999_999_999, userError: 999_999_999, baselineUnhealthy: 999_999_999, accepted: 999_999_999, deleting: 999_999_999, progressing: 999_999_999, unknown: 999_999_999 } };
  const waveNames = Array.from({ length: MAX_WAVES }, (_, j) => label63('w', j));
  const seeds: Record<string, SeedState> = {};
  const planWaves: Plan['waves'] = waveNames.map((name) => ({ name, seeds: [], shoots: 999_999_999, shootsByPurpose: { evaluation: 999_999_999, testing: 999_999_999, development: 999_999_999, production: 999_999_999, infrastructure: 999_999_999 }, productionShoots: 999_999_999, shootsConfinedToMaintenance: 999_999_999 }));
  const versions: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const name = label63('s', i);
    const wave = i % MAX_WAVES;
    planWaves[wave]!.seeds.push({ name, managedBy: label63('m', i) });
    // a previous chart of its own per seed (nothing shared in the seed table), in the seed's wave (else kept whole)
    seeds[name] = { wave, root: label63('m', i), promotedAt: ISO, readyAt: ISO, previousVersion: VERSION, previousRef: previousRef(i), vanished: true, notReadySince: ISO, revisionSince: ISO };
    versions[name] = VERSION;
  }
  const key = LONGEST_SHOOT_KEY;
  const keys = Array.from({ length: shootKeys }, (_, i) => `${key.slice(0, -8)}${String(i).padStart(8, '0')}`);
  const waves: WaveState[] = waveNames.map((name, j) => ({
    name,
    startedAt: ISO,
    deadline: ISO,
    exposedAt: ISO,
    bakeUntil: ISO,
    finishedAt: ISO,
    bakeSkipped: true,
    baseline: j === 0 ? keys : [],
    tally,
    gate,
  }));
  const history: HistoryEntry[] = Array.from({ length: MAX_HISTORY }, () => ({
    time: ISO,
    kind: 'Operation',
    event: text(64),
    reason: 'NotAllowed',
    message: text(3 * MAX_HISTORY_MESSAGE_BYTES), // capped by buildStatus
    actor: text(128),
    wave: label63('w', 0),
  }));
  const plan: Plan = { computedAt: PLANNED, seeds: n, shoots: 999_999_999, waves: planWaves };
  const ctx: Ctx = { plan, current: MAX_WAVES - 1, waves, seeds, accepted: [], overall: { ...gate, healthy: 999_999_999 }, reason: text(3 * MAX_DETAIL_BYTES), history, haltStops: Object.keys(seeds).sort() };
  const snap = rolloutMachine.resolveState({ value: 'halted', context: ctx });
  const spec = worstCaseSpec();
  const input: DecideInput = { spec, generation: 999_999_999, observation: { seeds: [], gardenletRefs: new Map(), seedHealth: new Map(), shoots: [], shootsByPurpose: new Map() } as unknown as DecideInput['observation'], now: NOW };
  const ev = { versions } as unknown as Evaluation;
  return buildStatus(snap, input, ev);
}

