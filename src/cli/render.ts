// A CanaryRollout as an operator reads it in a terminal: the plan, each wave with its seeds and counts, the
// unhealthy ratio against the threshold as a bar, bake time left, why it is paused or halted, the last decisions
// and what to do next. Pure (rollout + now in, lines out): `kubectl canary status` and the demo both use it.
import type { Target } from '../api/target.js';
import { type CanaryRollout, type Plan, type WaveStatus } from '../api/v1alpha1.js';
import { formatDuration } from '../util/duration.js';
import { HOLDING_RELEASED_BY_DELETION, historyText } from '../engine/decide.js';
import { productionShoots } from '../engine/planner.js';

const BAR = 20;

/** `ratio` against `max` as a bar: '#' for the ratio, '|' marks the threshold. */
export function ratioBar(ratio: number, max: number): string {
  // the threshold sits in the middle; with a threshold of 0 any unhealthy shoot is past it
  const fill = max > 0 ? Math.min(BAR, Math.round((ratio / max) * (BAR / 2))) : ratio > 0 ? BAR : 0;
  const mark = max > 0 ? Math.min(BAR - 1, Math.round(BAR / 2)) : 0;
  let out = '';
  for (let i = 0; i < BAR; i++) out += i === mark ? '|' : i < fill ? '#' : '.';
  return `[${out}]`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export const duration = formatDuration;

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
}

function waveLine(w: WaveStatus, max: number, now: Date, planned: Plan['waves'][number] | undefined): string[] {
  const c = w.counts;
  const ratio = w.unhealthyRatio ?? (c && c.healthy + c.unhealthy > 0 ? c.unhealthy / (c.healthy + c.unhealthy) : undefined);
  const excluded = c ? Object.values(c.excluded ?? {}).reduce((a, b) => a + (b ?? 0), 0) : 0;
  const bake = w.bakeUntil && !w.finishedAt ? `bake ${duration(Date.parse(w.bakeUntil) - now.getTime())} left` : '';
  const line = pad(
    [
      w.name,
      w.phase,
      `${w.seedsPromoted}/${w.seedsTotal}`,
      c ? String(c.exposed) : '-',
      c ? String(c.healthy) : '-',
      c ? String(c.unhealthy) : '-',
      c ? String(excluded) : '-',
      ratio !== undefined ? `${ratioBar(ratio, max)} ${pct(ratio)} (max ${pct(max)})` : '-',
      bake,
    ],
    [12, 18, 6, 8, 8, 10, 9, 42, 0],
  );
  const seeds = (w.seeds ?? []).map((s) => `${s.name} ${s.phase}`);
  const parts = [
    ...(planned
      ? [
          `plan: ${planned.shoots} shoots, ${planned.productionShoots ?? productionShoots(planned.shootsByPurpose)} production${
            planned.shootsConfinedToMaintenance ? `, ${planned.shootsConfinedToMaintenance} wait for their maintenance window` : ''
          }`,
        ]
      : []),
    ...(seeds.length ? [`seeds: ${seeds.slice(0, 8).join(', ')}${seeds.length > 8 ? `, ... (${seeds.length} in all)` : ''}`] : []),
  ];
  return parts.length ? [line, `  ${parts.join('; ')}`] : [line];
}

/** The target in a few words: gardenlet v1.150.0, extension provider-aws v1.62.0. */
export function targetText(t: Target): string {
  if (t.gardenlet) return `gardenlet ${t.gardenlet.version}`;
  // the schema allows exactly one of the two
  return t.extension ? `extension ${t.extension.controllerDeployment} ${t.extension.version}` : '-';
}

export function renderStatus(r: CanaryRollout, now: Date = new Date()): string[] {
  const st = r.status ?? {};
  const spec = r.spec;
  const target = targetText(spec.target);
  const out: string[] = [];
  out.push(`Name:     ${r.metadata.name}`);
  out.push(`Target:   ${target}${spec.dryRun ? ' (dry run)' : ''}`);
  out.push(`Phase:    ${st.phase ?? 'Pending'}   waves ${st.waveProgress ?? `0/${spec.waves.length}`}${st.sampleSize ? `   healthy ${pct(st.healthyRatio ?? 0)} of ${st.sampleSize} counted shoots` : ''}`);
  if (st.message) out.push(`Message:  ${st.message}`);
  if (st.extension) out.push(`Strategy: ${st.extension.strategy}: ${st.extension.reason}`);
  const waiting = st.conditions?.find((c) => c.type === 'Waiting' && c.status === 'True');
  if (waiting) out.push(`Waiting:  ${waiting.message}`);
  if (st.plan) out.push(`Plan:     ${st.plan.seeds} seeds, ${st.plan.shoots} shoots in ${st.plan.waves.length} waves${st.plan.unplannedSeeds?.length ? `; ${st.plan.unplannedSeeds.length} in-scope seeds in no wave` : ''}`);
  out.push('');
  out.push(pad(['WAVE', 'PHASE', 'SEEDS', 'EXPOSED', 'HEALTHY', 'UNHEALTHY', 'EXCLUDED', 'UNHEALTHY RATIO', ''], [12, 18, 6, 8, 8, 10, 9, 42, 0]));
  spec.waves.forEach((ws, i) => {
    const max = ws.healthGate?.maxUnhealthyRatio ?? spec.healthGate.maxUnhealthyRatio;
    const w = st.waves?.[i] ?? { name: ws.name, phase: 'Pending' as const, seedsPromoted: 0, seedsTotal: st.plan?.waves[i]?.seeds.length ?? 0 };
    out.push(...waveLine(w, max, now, st.plan?.waves[i]));
  });
  const history = (st.history ?? []).slice(-5);
  if (history.length) {
    out.push('', 'Last decisions:');
    for (const h of history) {
      out.push(`  ${h.time.slice(11, 19)}  ${h.event.padEnd(24)} ${historyText(h)}`.slice(0, 200));
    }
  }
  const next = nextSteps(r);
  if (next.length) out.push('', 'Next:', ...next.map((n) => `  ${n}`));
  return out;
}

/** What an operator can do now, as commands. */
export function nextSteps(r: CanaryRollout): string[] {
  const n = r.metadata.name;
  switch (r.status?.phase) {
    case 'Halted':
      return [
        `kubectl canary resume ${n} --reason "..."   accept the failures seen so far and continue`,
        `kubectl canary abort ${n} --reason "..."    end it (rollback: ${r.spec.onHalt.rollback})`,
      ];
    case 'Paused':
      return [`kubectl canary resume ${n}`, `kubectl canary abort ${n}`];
    case 'Failed':
      return [`kubectl canary retry ${n}   a new progress deadline`, `kubectl canary abort ${n}`];
    case 'Progressing':
      return [`kubectl canary pause ${n}`, `kubectl canary promote ${n}   end the current bake now`];
    case 'Aborted':
    case 'RolledBack':
    case 'Succeeded':
      // what it still holds is in the message (condition Holding); deleting lets go of stops and marks
      return r.status.conditions?.some((c) => c.type === 'Holding' && c.reason === HOLDING_RELEASED_BY_DELETION) ? [`kubectl delete canaryrollout ${n}   let go of what it still holds (changes no version)`] : [];
    default:
      return [];
  }
}
