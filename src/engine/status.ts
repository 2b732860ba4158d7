// The status a decision writes: phase, waves with the seeds they list, conditions and message, from the machine
// snapshot and the evaluation; and the persisted machine state (persisted.ts) it rests on.
import type { CanaryRolloutStatus, Condition, Phase, WavePhase } from '../api/v1alpha1.js';
import { MAX_SEED_DETAILS } from '../api/v1alpha1.js';
import { capText, MAX_DETAIL_BYTES, MAX_HISTORY_MESSAGE_BYTES, MAX_MESSAGE_BYTES } from './bounds.js';
import type { DecideInput } from './decide.js';
import { staleMessage } from './freshness.js';
import { canonical } from './extension.js';
import { MACHINE_VERSION } from './machine.js';
import { targetVersion, type Evaluation, type WaveState } from './machine-context.js';
import { persistSnapshot, type Snapshot } from './persisted.js';
import { targetOf } from './targets/target.js';

const PHASE_OF: Record<string, Phase> = {
  pending: 'Pending',
  planning: 'Planning',
  planned: 'Planned',
  progressing: 'Progressing',
  paused: 'Paused',
  halted: 'Halted',
  failed: 'Failed',
  rollingBack: 'RollingBack',
  completing: 'Progressing',
  rolledBack: 'RolledBack',
  aborted: 'Aborted',
  succeeded: 'Succeeded',
};

export function phaseOf(value: Snapshot['value']): Phase {
  const top = typeof value === 'string' ? value : (Object.keys(value)[0] ?? '');
  return PHASE_OF[top] ?? 'Pending';
}

export function isCompleting(value: Snapshot['value']): boolean {
  return value === 'completing';
}

/** The state inside Progressing (promoting, waitingForExposure, baking), if the rollout is there. */
export function subState(value: Snapshot['value']): string | undefined {
  const inner = typeof value === 'object' ? value['progressing'] : undefined;
  return inner === undefined ? undefined : String(inner);
}

export function condition(prev: Condition[] | undefined, type: string, status: Condition['status'], reason: string, message: string, now: Date, generation: number): Condition {
  const old = prev?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now.toISOString();
  return { type, status, reason, message: message.slice(0, 32768), lastTransitionTime, observedGeneration: generation };
}

export function buildStatus(snap: Snapshot, input: DecideInput, ev: Evaluation): CanaryRolloutStatus {
  const { spec, generation, now } = input;
  const ctx = snap.context;
  const phase = phaseOf(snap.value);
  const sub = subState(snap.value);
  const n = ctx.plan?.waves.length ?? spec.waves.length;
  const prev = input.status?.conditions;

  const promotedPhase = targetOf(spec).words.promoted;
  const phases = new Map(ctx.plan?.waves.flatMap((pw) => pw.seeds.map((ps) => [ps.name, seedPhaseOf(ctx, promotedPhase, ps.name)] as const)));
  const seedPhase = (name: string) => phases.get(name) ?? seedPhaseOf(ctx, promotedPhase, name);
  const listed = ctx.plan ? listedSeeds(ctx.plan, ctx.current, seedPhase) : [];
  const waves = ctx.plan
    ? ctx.plan.waves.map((pw, i) => {
        // (a wave without state has not started)
        const w: WaveState = ctx.waves[i] ?? { name: pw.name, baseline: [] };
        const seeds = (listed[i] ?? []).map((ps) => {
          const s = ctx.seeds[ps.name];
          return {
            name: ps.name,
            phase: seedPhase(ps.name),
            ...(s?.previousVersion ? { previousVersion: s.previousVersion } : {}),
            ...(ev.versions[ps.name] ? { version: ev.versions[ps.name] } : {}),
            ...(s?.promotedAt ? { promotedAt: s.promotedAt } : {}),
            ...(s?.readyAt ? { readyAt: s.readyAt } : {}),
          };
        });
        const ended = phase === 'Aborted' || phase === 'RolledBack';
        const wavePhase: WavePhase =
          w.finishedAt !== undefined
            ? 'Succeeded'
            : ended
              ? w.startedAt ? phase : 'Cancelled'
              : i !== ctx.current || !w.startedAt
              ? 'Pending'
              : phase === 'Halted'
                ? 'Halted'
                : phase === 'Failed'
                  ? 'Failed'
                  : sub === 'baking' || w.exposedAt
                    ? 'Baking'
                    : sub === 'waitingForExposure'
                      ? 'WaitingForExposure'
                      : 'Promoting';
        const t = w.tally;
        return {
          name: w.name,
          phase: wavePhase,
          seedsPromoted: pw.seeds.filter((ps) => ['Promoted', 'Released'].includes(seedPhase(ps.name))).length,
          seedsTotal: pw.seeds.length,
          ...(t ? { counts: { shoots: t.shoots, exposed: t.exposed, healthy: t.healthy, unhealthy: t.unhealthy, excluded: t.excluded } } : {}),
          ...(w.gate?.unhealthyRatio !== undefined ? { unhealthyRatio: w.gate.unhealthyRatio } : {}),
          ...(w.startedAt ? { startedAt: w.startedAt } : {}),
          ...(w.exposedAt ? { exposedAt: w.exposedAt } : {}),
          ...(w.bakeUntil ? { bakeUntil: w.bakeUntil } : {}),
          ...(w.deadline ? { deadline: w.deadline } : {}),
          ...(w.finishedAt ? { finishedAt: w.finishedAt } : {}),
          seeds,
          ...(seeds.length < pw.seeds.length ? { seedsOmitted: pw.seeds.length - seeds.length } : {}),
        };
      })
    : undefined;

  const current = ctx.waves[ctx.current];
  const message =
    ctx.reason ??
    (isCompleting(snap.value)
      ? `all waves succeeded; handing over to registration ${ctx.extension?.registrations.join(', ')} with the new content`
      : phase === 'Progressing' && current
        ? `wave ${current.name} ${sub ?? ''}: ${current.gate?.reason ?? 'starting'}`
        : phase === 'Succeeded'
          ? 'all waves succeeded'
          : phase);
  const overall = ctx.overall;
  const sample = overall?.sample;
  // the engine's own texts can list seeds (a halt's regressed seeds): bounded here, see bounds.ts
  const detail = capText(message, MAX_DETAIL_BYTES);
  // (a UTF-16 code unit is at most 3 bytes of UTF-8: shorter messages fit without measuring)
  const history = ctx.history.map((h) => (h.message && h.message.length > MAX_HISTORY_MESSAGE_BYTES / 3 ? { ...h, message: capText(h.message, MAX_HISTORY_MESSAGE_BYTES) } : h));
  const machine = persistSnapshot(snap);
  const persisted = machine.state.context;
  if (persisted.reason) persisted.reason = capText(persisted.reason, MAX_DETAIL_BYTES);

  return {
    observedGeneration: generation,
    phase,
    message: capText(message, MAX_MESSAGE_BYTES),
    targetVersion: targetVersion(spec),
    ...(ctx.plan ? { plan: ctx.plan } : {}),
    ...(ctx.extension ? { extension: ctx.extension } : {}),
    currentWave: ctx.current,
    waveProgress: `${Math.min(ctx.current + (ctx.plan && phase !== 'Pending' && phase !== 'Planning' && phase !== 'Planned' ? 1 : 0), n)}/${n}`,
    ...(overall && sample ? { healthyRatio: Math.round((overall.healthy / sample) * 1000) / 1000, sampleSize: sample } : {}),
    ...(waves ? { waves } : {}),
    conditions: [
      condition(prev, 'Progressing', phase === 'Progressing' ? 'True' : 'False', phase, detail, now, generation),
      condition(prev, 'Halted', phase === 'Halted' ? 'True' : 'False', phase === 'Halted' ? 'GateFailed' : 'NotHalted', phase === 'Halted' ? detail : 'the rollout is not halted', now, generation),
      condition(prev, 'Complete', phase === 'Succeeded' ? 'True' : 'False', phase, phase === 'Succeeded' ? 'all waves succeeded' : `phase ${phase}`, now, generation),
      condition(prev, 'Degraded', 'False', 'MachineStateUnderstood', `machine version ${MACHINE_VERSION}`, now, generation),
      ...(input.observation.inputs
        ? [
            input.observation.inputs.stale.length
              ? condition(prev, 'InputsStale', 'True', 'CachesNotConfirmed', staleMessage(input.observation.inputs), now, generation)
              : condition(prev, 'InputsStale', 'False', 'CachesFresh', 'every cache this rollout reads was confirmed fresh within the bound', now, generation),
          ]
        : []),
      ...(input.deletionBlocked ? [condition(prev, 'DeletionBlocked', 'True', 'WaitingForAbortOrConfirmation', input.deletionBlocked, now, generation)] : []),
      // a failed pre-flight check (preflight.ts) or an impossible strategy: what to fix before the rollout starts
      ...(phase === 'Pending' && ev.blocked ? [condition(prev, 'Waiting', 'True', ev.blockedReason ?? 'CannotPlan', capText(ev.blocked, MAX_DETAIL_BYTES), now, generation)] : []),
    ],
    history,
    machine,
  };
}

type SeedPhase = 'Skipped' | 'Released' | 'Promoted' | 'Promoting' | 'Pending';

/** `promoted`: what a ready seed is called for the target kind (Promoted, or Released for extensions). */
function seedPhaseOf(ctx: Snapshot['context'], promoted: SeedPhase, name: string): SeedPhase {
  const s = ctx.seeds[name];
  if (s?.vanished) return 'Skipped';
  if (s?.readyAt) return promoted;
  return s && ctx.seeds[s.root]?.promotedAt ? 'Promoting' : 'Pending';
}

/** What an operator waits on comes first when a wave cannot list all its seeds. */
const LISTING_ORDER: Record<SeedPhase, number> = { Promoting: 0, Pending: 1, Promoted: 2, Released: 2, Skipped: 3 };

/**
 * The seeds waves[].seeds lists, by wave: at most MAX_SEED_DETAILS over all waves, the current wave first, then the
 * waves before it (newest first), then the waves after it; a wave that gets fewer than its seeds lists the ones still
 * promoting or pending first, each wave in plan order. The plan and status.machine hold every seed whatever is listed.
 */
export function listedSeeds<S extends { name: string }>(plan: { waves: readonly { seeds: readonly S[] }[] }, current: number, phase: (name: string) => SeedPhase): S[][] {
  const n = plan.waves.length;
  const order: number[] = [];
  if (current < n) order.push(current);
  for (let i = Math.min(current, n) - 1; i >= 0; i--) order.push(i);
  for (let i = current + 1; i < n; i++) order.push(i);
  const out: S[][] = plan.waves.map(() => []);
  let room = MAX_SEED_DETAILS;
  for (const i of order) {
    const seeds = plan.waves[i]?.seeds ?? [];
    let listed: S[] = [];
    if (seeds.length <= room) listed = [...seeds];
    else if (room > 0) {
      const rank = new Map(seeds.map((s, k) => [s.name, k]));
      const byRank = (s: S) => rank.get(s.name) ?? 0;
      const picked = new Set([...seeds].sort((a, b) => LISTING_ORDER[phase(a.name)] - LISTING_ORDER[phase(b.name)] || byRank(a) - byRank(b)).slice(0, room));
      listed = seeds.filter((s) => picked.has(s));
    }
    out[i] = listed;
    room -= listed.length;
  }
  return out;
}

/** The status compared as the API server stores it: key order and absent vs undefined fields do not matter. */
export function sameStatus(a: CanaryRolloutStatus | undefined, b: CanaryRolloutStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}
