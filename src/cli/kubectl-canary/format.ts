// What kubectl canary prints, as pure functions of plain data: the list table, the plan preview, ages, schema
// issues, YAML/JSON output, and printable(), which keeps text from the API from acting on the terminal.
import * as yaml from 'js-yaml';
import * as z from 'zod';
import { FINAL_PHASES, type CanaryRollout } from '../../api/v1alpha1.js';
import { formatPath } from '../../api/rules.js';
import { productionShoots, type PlanResult } from '../../engine/planner.js';
import { targetText } from '../render.js';
import type { OutputFormat } from './args.js';

/** Like kubectl's AGE column: 45s, 5m10s, 42m, 3h15m, 20h, 3d4h, 12d. */
export function age(from: string | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / 1000));
  if (Number.isNaN(s)) return '<unknown>';
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return `${d}d`;
}

/**
 * `s` without what a terminal would act on instead of print: ANSI escape sequences (CSI such as colours and cursor
 * moves, OSC such as window titles and hyperlinks, DCS/SOS/PM/APC strings, two-character escapes; 7-bit and 8-bit
 * forms) and every other control character, C0 but newline and tab, DEL and C1. Text from the API (messages,
 * reasons, names, history) goes through it before it reaches a terminal: whoever may write a status or an
 * annotation must not be able to rewrite the operator's screen.
 */
export function printable(s: string): string {
  let out = '';
  let i = 0;
  const at = (j: number) => (j < s.length ? s.charCodeAt(j) : -1);
  // the end of a control string (OSC, DCS, SOS, PM, APC) started at j: after BEL or ST (ESC \ or 0x9c); unterminated, the introducer alone
  const stringEnd = (j: number, introducer: number) => {
    for (let k = j; k < s.length; k++) {
      const c = at(k);
      if (c === 0x07 || c === 0x9c) return k + 1;
      if (c === 0x1b && at(k + 1) === 0x5c) return k + 2;
    }
    return introducer;
  };
  // the end of a CSI's parameters (0x30-0x3f), intermediates (0x20-0x2f) and final byte (0x40-0x7e) from j
  const csiEnd = (j: number) => {
    while (at(j) >= 0x30 && at(j) <= 0x3f) j++;
    while (at(j) >= 0x20 && at(j) <= 0x2f) j++;
    return at(j) >= 0x40 && at(j) <= 0x7e ? j + 1 : j;
  };
  while (i < s.length) {
    const c = at(i);
    if (c === 0x1b) {
      const next = at(i + 1);
      if (next === 0x5b) i = csiEnd(i + 2); // ESC [
      else if (next === 0x5d || next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) i = stringEnd(i + 2, i + 2); // ESC ] P X ^ _
      else {
        // ESC, intermediates, one final byte (ESC c, ESC ( B, ESC 7, ...)
        let j = i + 1;
        while (at(j) >= 0x20 && at(j) <= 0x2f) j++;
        i = at(j) >= 0x30 && at(j) <= 0x7e ? j + 1 : j;
      }
    } else if (c === 0x9b) i = csiEnd(i + 1);
    else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) i = stringEnd(i + 1, i + 1);
    else if ((c < 0x20 && c !== 0x0a && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) i++;
    else {
      out += s[i];
      i++;
    }
  }
  return out;
}

export function truncate(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 3)}...`;
}

const MESSAGE_WIDTH = 60;

/** A field `list` shows: undefined when it is missing or not of the type its column needs. */
const field = <T extends z.ZodType>(t: T) => t.optional().catch(undefined);
/** An object of such fields: undefined when it is something else. */
const part = <S extends z.ZodRawShape>(shape: S) => z.object(shape).optional().catch(undefined);

/** What `list` reads of a rollout; parsing it never fails, whatever the API sent. */
const ListedRollout = z
  .object({
    metadata: part({ name: field(z.string()), creationTimestamp: field(z.string()) }),
    spec: part({
      target: part({ gardenlet: part({ version: field(z.string()) }), extension: part({ controllerDeployment: field(z.string()), version: field(z.string()) }) }),
      waves: field(z.array(part({ name: field(z.string()) }))),
    }),
    status: part({
      phase: field(z.string()),
      waveProgress: field(z.string()),
      currentWave: field(z.number()),
      healthyRatio: field(z.number()),
      sampleSize: field(z.number()),
      message: field(z.string()),
    }),
  })
  .catch({});

/** A row of a table: a name, then the other cells. */
type Row = [name: string, ...cells: string[]];

/**
 * One row of `list`, from the object as the API returned it. Tolerant on purpose: the list must still show an
 * object the schema would reject (e.g. written by a newer controller), so nothing here assumes a field exists.
 */
export function rolloutRow(raw: unknown, now: Date): Row {
  const o = ListedRollout.parse(raw);
  const t = o.spec?.target;
  const target = t?.gardenlet ? `gardenlet ${t.gardenlet.version ?? '?'}` : t?.extension ? `${t.extension.controllerDeployment ?? '?'} ${t.extension.version ?? '?'}` : '-';
  const st = o.status ?? {};
  const phase = st.phase ?? 'Pending';
  const waves = o.spec?.waves ?? [];
  const current = st.currentWave !== undefined && !FINAL_PHASES.has(phase) ? waves[st.currentWave]?.name : undefined;
  const wave = `${st.waveProgress ?? `0/${waves.length}`}${current ? ` ${current}` : ''}`;
  return [
    o.metadata?.name ?? '<unnamed>',
    phase,
    target,
    wave,
    st.healthyRatio !== undefined ? `${(st.healthyRatio * 100).toFixed(1)}%` : '-',
    st.sampleSize !== undefined ? String(st.sampleSize) : '-',
    age(o.metadata?.creationTimestamp, now),
    st.message ? truncate(st.message, MESSAGE_WIDTH) : '',
  ];
}

/** Columns padded to their widest cell, three spaces apart, like kubectl get. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd());
}

export const LIST_HEADER = ['NAME', 'PHASE', 'TARGET', 'WAVE', 'HEALTHY', 'SAMPLE', 'AGE', 'MESSAGE'] as const;

/** The `list` table, rollouts sorted by name. */
export function formatList(items: readonly unknown[], now: Date): string[] {
  const rows = items.map((i) => rolloutRow(i, now)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return table(LIST_HEADER, rows);
}

const SEEDS_SHOWN = 10;

/** The `plan` preview: one line per wave (what it exposes, production shoots among it), its seeds, then unplanned seeds and the planner's notes. */
export function formatPlan(name: string, spec: { target: CanaryRollout['spec']['target'] }, result: PlanResult, inScope: number): string[] {
  const { plan, notes } = result;
  const t = targetText(spec.target);
  const out = [
    `Plan for ${name} (${t}), computed against the live landscape; nothing was created.`,
    `${plan.seeds} of ${inScope} in-scope seeds and ${plan.shoots} shoots in ${plan.waves.length} waves.`,
    '',
  ];
  out.push(
    ...table(
      ['WAVE', 'SEEDS', 'SHOOTS', 'PRODUCTION', 'BY PURPOSE'],
      plan.waves.map((w) => [
        w.name,
        String(w.seeds.length),
        String(w.shoots),
        String(w.productionShoots ?? productionShoots(w.shootsByPurpose)),
        Object.entries(w.shootsByPurpose ?? {})
          .map(([p, n]) => `${p} ${n}`)
          .join(', ') || '-',
      ]),
    ),
  );
  out.push('');
  for (const w of plan.waves) {
    const names = w.seeds.map((s) => (s.managedBy ? `${s.name} (managed, follows ${s.managedBy})` : s.name));
    const more = names.length > SEEDS_SHOWN ? `, ... (${names.length} in all)` : '';
    out.push(`${w.name}: ${names.length ? names.slice(0, SEEDS_SHOWN).join(', ') + more : 'no seeds'}`);
    const confined = w.shootsConfinedToMaintenance ?? 0;
    if (confined) out.push(`  ${confined} shoots confine updates to their maintenance window: not force-reconciled, they run the new version in their window`);
  }
  const unplanned = plan.unplannedSeeds ?? [];
  if (unplanned.length) {
    out.push('', `Unplanned (in scope, in no wave, never touched): ${unplanned.slice(0, SEEDS_SHOWN).join(', ')}${unplanned.length > SEEDS_SHOWN ? `, ... (${unplanned.length} in all)` : ''}`);
  }
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `  - ${n}`));
  return out;
}

/** zod issues as `path: message` lines, with paths the way the API server prints them (spec.waves[1].percent). */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `  ${i.path.length ? formatPath(i.path) : '(root)'}: ${i.message}`);
}

/**
 * The object as YAML or JSON. Both keep every character of the data but put none a terminal acts on: js-yaml writes
 * non-printable characters as escapes in double quotes, JSON.stringify escapes C0 but not DEL and C1, so those are
 * escaped here (inside strings, the only place JSON.stringify puts them; the same JSON value).
 */
export function serialize(obj: unknown, format: OutputFormat): string {
  if (format === 'yaml') return yaml.dump(obj, { noRefs: true, lineWidth: -1 });
  return `${JSON.stringify(obj, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}
