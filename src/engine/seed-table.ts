// The machine context's per-seed state (Ctx.seeds) in the form status.machine persists it since machine version 3:
// one row of numbers per planned seed, in the plan's order, instead of an object per seed keyed by its name. At
// 3,000 seeds the object form took ~210 bytes a seed (names repeated from the plan, ISO timestamps, the previous
// chart copied into every seed); a row takes ~25. The codec is lossless: a seed whose state the row form cannot
// carry exactly (a wave that is not its plan wave, a timestamp not in the engine's own ISO form, a field the row does
// not know) is kept whole under `other`. See bounds.ts for the status budget this serves.
import type { OCIRepository } from '../api/fields.js';
import type { Plan } from '../api/v1alpha1.js';
import type { SeedState } from './machine-context.js';

/** [promotedAt, readyAt, previous, notReadySince, revisionSince, vanished]: times in ms after the table's epoch, `previous` an index into its previous list, vanished 1; trailing nulls are cut. */
export type SeedRow = (number | null)[];

export interface SeedTable {
  /** Times of the rows are milliseconds after this instant (the plan's computedAt). */
  epoch: string;
  /** The distinct previous version and chart pairs the promoted seeds recorded (RevertAll restores them). */
  previous?: { version?: string; ref?: OCIRepository }[];
  /** One per seed of the plan, waves in order, seeds in wave order; null for a planned seed without state. */
  rows: (SeedRow | null)[];
  /** Seeds whose unit root is another seed (managed seeds that move with their parent's gardenlet). */
  roots?: Record<string, string>;
  /** Seeds the row form cannot carry exactly, whole. */
  other?: Record<string, SeedState>;
}

const ROW_FIELDS = new Set(['wave', 'root', 'promotedAt', 'readyAt', 'previousVersion', 'previousRef', 'notReadySince', 'revisionSince', 'vanished']);

/** The planned seeds in plan order with their wave index (the first occurrence of a name counts). */
function plannedSeeds(plan: Plan | undefined): { name: string; wave: number }[] {
  const out: { name: string; wave: number }[] = [];
  plan?.waves.forEach((w, i) => {
    for (const s of w.seeds) out.push({ name: s.name, wave: i });
  });
  return out;
}

/** A time's offset from the epoch, or undefined when it is not in the engine's own form (it is kept whole then). */
function offsets(epochMs: number): (t: string | undefined) => number | null | undefined {
  // a batch of seeds shares its times: each distinct one is parsed and checked once
  const seen = new Map<string, number | undefined>();
  return (t) => {
    if (t === undefined) return null;
    if (!seen.has(t)) {
      const ms = Date.parse(t);
      // only the engine's own form (toISOString) round-trips
      seen.set(t, Number.isFinite(ms) && new Date(ms).toISOString() === t ? ms - epochMs : undefined);
    }
    return seen.get(t);
  };
}

export function encodeSeedTable(seeds: Readonly<Record<string, SeedState>>, plan: Plan | undefined): SeedTable {
  const epoch = plan?.computedAt ?? new Date(0).toISOString();
  const offsetOf = offsets(Date.parse(epoch));
  const previous: NonNullable<SeedTable['previous']> = [];
  const previousIndex = new Map<string, number>();
  // decoded seeds share their pair's chart object: found by identity before it is serialised
  const byRef = new Map<unknown, Map<string | undefined, number>>();
  const roots: Record<string, string> = {};
  const other: Record<string, SeedState> = {};
  const rows: (SeedRow | null)[] = [];
  const done = new Set<string>();

  const previousOf = (s: SeedState): number | null => {
    if (s.previousVersion === undefined && s.previousRef === undefined) return null;
    const known = byRef.get(s.previousRef)?.get(s.previousVersion);
    if (known !== undefined) return known;
    const entry = { ...(s.previousVersion !== undefined ? { version: s.previousVersion } : {}), ...(s.previousRef ? { ref: s.previousRef } : {}) };
    const key = JSON.stringify(entry);
    let index = previousIndex.get(key);
    if (index === undefined) {
      index = previous.push(entry) - 1;
      previousIndex.set(key, index);
    }
    let versions = byRef.get(s.previousRef);
    if (!versions) {
      versions = new Map();
      byRef.set(s.previousRef, versions);
    }
    versions.set(s.previousVersion, index);
    return index;
  };
  const rowOf = (name: string, wave: number, s: SeedState): SeedRow | undefined => {
    if (s.wave !== wave || Object.keys(s).some((k) => !ROW_FIELDS.has(k)) || (s.vanished !== undefined && s.vanished !== true)) return undefined;
    const times = [s.promotedAt, s.readyAt, s.notReadySince, s.revisionSince].map(offsetOf);
    if (!times.every((t) => t !== undefined)) return undefined;
    const [promotedAt, readyAt, notReadySince, revisionSince] = times;
    // the previous pair is registered only once the row is certain (no entry without a row using it)
    const row: SeedRow = [promotedAt ?? null, readyAt ?? null, previousOf(s), notReadySince ?? null, revisionSince ?? null, s.vanished ? 1 : null];
    while (row.length && row[row.length - 1] === null) row.pop();
    if (s.root !== name) roots[name] = s.root;
    return row;
  };

  for (const { name, wave } of plannedSeeds(plan)) {
    const s = seeds[name];
    if (!s || done.has(name)) {
      rows.push(null);
      continue;
    }
    done.add(name);
    const row = rowOf(name, wave, s);
    if (row) rows.push(row);
    else {
      rows.push(null);
      other[name] = s;
    }
  }
  for (const [name, s] of Object.entries(seeds)) if (!done.has(name)) other[name] = s;
  return {
    epoch,
    ...(previous.length ? { previous } : {}),
    rows,
    ...(Object.keys(roots).length ? { roots } : {}),
    ...(Object.keys(other).length ? { other } : {}),
  };
}

export function decodeSeedTable(table: SeedTable, plan: Plan | undefined): Record<string, SeedState> {
  const epochMs = Date.parse(table.epoch);
  // a batch of seeds shares its times: each distinct one is formatted once
  const times = new Map<number, string>();
  const time = (v: number) => {
    let t = times.get(v);
    if (t === undefined) {
      t = new Date(epochMs + v).toISOString();
      times.set(v, t);
    }
    return t;
  };
  const seeds: Record<string, SeedState> = {};
  plannedSeeds(plan).forEach(({ name, wave }, i) => {
    const row = table.rows[i];
    if (!row || seeds[name]) return;
    const [promotedAt, readyAt, previousAt, notReadySince, revisionSince, vanished] = row;
    const previous = previousAt === null || previousAt === undefined ? undefined : table.previous?.[previousAt];
    const s: SeedState = { wave, root: table.roots?.[name] ?? name };
    if (promotedAt != null) s.promotedAt = time(promotedAt);
    if (readyAt != null) s.readyAt = time(readyAt);
    if (previous?.version !== undefined) s.previousVersion = previous.version;
    if (previous?.ref) s.previousRef = previous.ref;
    if (vanished === 1) s.vanished = true;
    if (notReadySince != null) s.notReadySince = time(notReadySince);
    if (revisionSince != null) s.revisionSince = time(revisionSince);
    seeds[name] = s;
  });
  return { ...seeds, ...table.other };
}
