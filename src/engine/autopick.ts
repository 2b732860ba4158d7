// autoPick: the canary wave's seeds, picked for the least exposure that still gives a conclusive sample. The rule
// is stated at the top of planner.ts; this file is its implementation. Pure and deterministic: every tie ends on
// the root seed's name, and nothing depends on the order of the input.
import type { AutoPick } from '../api/waves.js';

/** A unit as autoPick weighs it (a root seed and the managed seeds that move with it). */
export interface Candidate {
  root: { name: string; provider: string; region: string };
  /** All shoots on the unit's seeds: what picking it exposes. */
  shoots: number;
  /** Of those, shoots of purpose production or infrastructure. */
  production: number;
  /** Of those, shoots the gate can count (not being deleted, not hibernated when hibernated ones are excluded). */
  countable: number;
}

export interface AutoPickResult<U> {
  picked: U[];
  notes: string[];
}

const byRoot = (a: Candidate, b: Candidate) => (a.root.name < b.root.name ? -1 : a.root.name > b.root.name ? 1 : 0);

/** Coverage: the fewest production shoots, then the fewest shoots. */
const coverageOrder = (a: Candidate, b: Candidate) => a.production - b.production || a.shoots - b.shoots || byRoot(a, b);

/**
 * Sample: the fewest production shoots per shoot gained, then the fewest shoots per shoot gained, then the larger
 * gain. A unit gains its countable shoots up to the `missing` ones (overshoot is exposure, not sample). Fractions
 * are compared by cross-multiplication, so equal ratios tie exactly.
 */
function sampleOrder(missing: number) {
  return (a: Candidate, b: Candidate) => {
    const ga = Math.min(a.countable, missing);
    const gb = Math.min(b.countable, missing);
    return a.production * gb - b.production * ga || a.shoots * gb - b.shoots * ga || gb - ga || byRoot(a, b);
  };
}

/** Which added units go first when the sample does not need them: the most production shoots, then the most shoots. */
const dropOrder = (a: Candidate, b: Candidate) => b.production - a.production || b.shoots - a.shoots || byRoot(a, b);

const groupKey = (coverage: AutoPick['coverage'], c: Candidate) =>
  coverage === 'Provider' ? c.root.provider : coverage === 'Region' ? c.root.region : `${c.root.provider}/${c.root.region}`;

export function autoPick<U extends Candidate>(units: readonly U[], opts: AutoPick, minSample: number, wave: string): AutoPickResult<U> {
  const notes: string[] = [];
  const picked: U[] = [];
  let shoots = 0;
  let countable = 0;
  const fits = (u: U) => opts.maxShoots === undefined || shoots + u.shoots <= opts.maxShoots;
  const take = (u: U) => {
    picked.push(u);
    shoots += u.shoots;
    countable += u.countable;
  };
  const names = (us: readonly U[]) => us.map((u) => u.root.name).join(', ');

  // 1. coverage
  const groups = new Map<string, U[]>();
  for (const u of units) groups.set(groupKey(opts.coverage, u), [...(groups.get(groupKey(opts.coverage, u)) ?? []), u]);
  for (const [key, group] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const evidence = group.filter((u) => u.countable > 0);
    const pool = (evidence.length ? evidence : group).sort(coverageOrder);
    const want = Math.min(opts.seedsPerGroup, pool.length);
    const mine: U[] = [];
    for (const u of pool) {
      if (mine.length === want) break;
      if (!fits(u)) continue;
      mine.push(u);
      take(u);
    }
    const [smallest] = [...pool].sort((a, b) => a.shoots - b.shoots || byRoot(a, b));
    const smallestSaid = smallest ? ` (its smallest seed, ${smallest.root.name}, has ${smallest.shoots} shoots)` : '';
    if (mine.length === 0) notes.push(`wave ${wave}: maxShoots ${opts.maxShoots} leaves ${key} uncovered${smallestSaid}`);
    else if (mine.length < want) notes.push(`wave ${wave}: maxShoots ${opts.maxShoots} leaves ${key} with ${mine.length} of ${want} seeds`);
    if (mine.length && !evidence.length) notes.push(`wave ${wave}: no seed of ${key} has countable shoots: covered by ${names(mine)}, which add nothing to the sample`);
  }

  // 2. sample
  const chosen = new Set<U>(picked);
  let rest = units.filter((u) => !chosen.has(u) && u.countable > 0);
  const reachable = countable + rest.reduce((a, u) => a + u.countable, 0);
  if (countable < minSample && reachable < minSample) {
    notes.push(`wave ${wave}: the seeds in scope have only ${reachable} countable shoots, fewer than its minimum sample of ${minSample}: it keeps its coverage seeds and cannot pass; lower minSampleSize`);
  } else if (countable < minSample) {
    const covered = { shoots, countable, count: picked.length };
    const added: U[] = [];
    while (countable < minSample) {
      const next = rest.filter(fits).sort(sampleOrder(minSample - countable))[0];
      if (!next) break;
      take(next);
      added.push(next);
      rest = rest.filter((u) => u !== next);
    }
    if (countable < minSample) {
      // the cap stopped it: seeds that cannot make the wave conclusive are exposure for nothing
      picked.length = covered.count;
      ({ shoots, countable } = covered);
      notes.push(`wave ${wave}: maxShoots ${opts.maxShoots} keeps it at ${countable} countable shoots, below its minimum sample of ${minSample}: it cannot pass; raise maxShoots or lower minSampleSize`);
    } else {
      for (const u of [...added].sort(dropOrder)) {
        if (countable - u.countable < minSample) continue;
        added.splice(added.indexOf(u), 1);
        picked.splice(picked.indexOf(u), 1);
        shoots -= u.shoots;
        countable -= u.countable;
      }
      notes.push(`wave ${wave}: ${names([...added].sort(byRoot))} added to reach the minimum sample of ${minSample} countable shoots`);
    }
  }
  const production = picked.reduce((a, u) => a + u.production, 0);
  notes.push(`wave ${wave}: autoPick exposes ${shoots} shoots (${production} production) for ${countable} countable shoots (minimum sample ${minSample})`);
  return { picked, notes };
}
