// The planner: from the spec and the observed landscape, a deterministic plan of waves, their seeds and shoot
// counts. Pure: the same inputs always give the same plan, and nothing here reads a clock or the API.
//
// Rules (they are also what the plan's notes explain to operators):
// - Scope: seeds matching spec.seedSelector that are not being deleted.
// - Units: for a gardenlet target, a managed seed's gardenlet is deployed by its parent's gardenlet, so a root
//   (unmanaged) seed and all managed seeds below it form one unit and move together; waves pick units by their
//   root. For an extension target every seed is its own unit.
// - Waves take units in order from what earlier waves left: seedNames and seedSelector by the root seed,
//   count and percent (rounded up, at least one) from the remaining units interleaved across provider/region so
//   that small waves spread risk, autoPick (first wave only) by the exposure rule below.
// - autoPick: a canary exposes as little as gives a conclusive sample (src/engine/autopick.ts). A unit's shoots are
//   all shoots on its seeds (what promoting it exposes), its production shoots those of purpose production or
//   infrastructure (gardenlet treats both alike, e.g. etcd's eviction requirement in botanist/etcd.go; a shoot
//   without a purpose is Gardener's default evaluation, core/v1beta1/defaults_shoot.go), its countable shoots those
//   the gate can count (not being deleted, not hibernated while the gate excludes hibernated shoots). The minimum
//   sample M is the wave's healthGate.minSampleSize, else the rollout's: it applies to the whole wave, as the gate
//   counts it. Every tie ends on the root seed's name.
//   1. Coverage: per coverage group (ProviderRegion, Provider or Region; groups in name order) the seedsPerGroup
//      units with the fewest production shoots, then the fewest shoots. While a group has units with countable
//      shoots only those qualify (a seed without shoots gives no evidence); a group without any is still covered.
//   2. Sample: while the wave counts fewer than M shoots, add the remaining unit (of any group) with the fewest
//      production shoots per shoot gained, then the fewest shoots per shoot gained, then the larger gain; a unit
//      gains its countable shoots up to the number still missing. Then added units the sample does not need are
//      dropped again, the most production shoots first. If the seeds in scope cannot reach M at all, none is added.
//   3. maxShoots: a unit that would take the wave over the cap is never picked, in either step. If the cap keeps
//      the wave below M, nothing is added beyond coverage (such a wave cannot pass): the notes say so, as they say
//      which units were added for the sample and what the wave exposes.
// - Units no wave picks are listed as unplanned and never touched.
// - Membership is a snapshot: see membershipChanges() for seeds that appear or vanish during the run.
import type { CanaryRolloutSpec, Plan } from '../api/v1alpha1.js';
import type { ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import { autoPick } from './autopick.js';
import { matchesSelector } from './selector.js';

export interface ObservedSeed {
  name: string;
  provider: string;
  region: string;
  labels: Record<string, string>;
  /** The seed hosting this managed seed's shoot (whose gardenlet deploys this seed's gardenlet). */
  parent?: string;
  deleting: boolean;
}

export interface ObservedShoot {
  seed: string | undefined;
  purpose: string;
  hibernated?: boolean;
  deleting?: boolean;
  /** The owner confines updates to the maintenance window (spec.maintenance.confineSpecUpdateRollout). */
  confined?: boolean;
}

const LOW_RISK_PURPOSES = new Set(['evaluation', 'testing', 'development']);
/** Production and infrastructure (and any purpose Gardener might add): the exposure autoPick avoids. */
export const isProduction = (purpose: string): boolean => !LOW_RISK_PURPOSES.has(purpose);

export interface PlanResult {
  plan: Plan;
  /** Why the plan looks as it does, for the status history and the operator. */
  notes: string[];
}

/** Observed seeds from Gardener objects: ManagedSeed -> its shoot in `garden` -> the seed that shoot runs on. */
export function observeSeeds(seeds: readonly Seed[], managedSeeds: readonly ManagedSeed[], gardenShoots: readonly Shoot[]): ObservedSeed[] {
  const shootSeed = new Map(gardenShoots.map((s) => [s.metadata.name, s.status?.seedName ?? s.spec.seedName]));
  const parentOf = new Map<string, string>();
  for (const m of managedSeeds) {
    const parent = m.spec.shoot ? shootSeed.get(m.spec.shoot.name) : undefined;
    if (parent) parentOf.set(m.metadata.name, parent);
  }
  return seeds.map((s) => {
    const parent = parentOf.get(s.metadata.name);
    return {
      name: s.metadata.name,
      provider: s.spec.provider.type,
      region: s.spec.provider.region,
      labels: s.metadata.labels ?? {},
      ...(parent !== undefined ? { parent } : {}),
      deleting: !!s.metadata.deletionTimestamp,
    };
  });
}

export function observeShoots(shoots: readonly Shoot[]): ObservedShoot[] {
  return shoots.map(observeShoot);
}

export function observeShoot(s: Shoot): ObservedShoot {
  return {
    seed: s.status?.seedName ?? s.spec.seedName,
    purpose: s.spec.purpose ?? 'evaluation', // Gardener's default (SetDefaults_Shoot)
    ...(s.spec.hibernation?.enabled || s.status?.hibernated ? { hibernated: true } : {}),
    ...(s.metadata.deletionTimestamp ? { deleting: true } : {}),
    ...(confinedToMaintenance(s) ? { confined: true } : {}),
  };
}

/**
 * The shoot's owner confines updates to its maintenance window. gardenlet then reconciles an up-to-date, Succeeded
 * shoot only in its effective maintenance window, once per window (shouldReconcileNow and enqueueAfter in
 * gardener/gardener pkg/gardenlet/controller/shoot/shoot/helper/infos.go), and gardener-apiserver bumps the
 * generation for no spec change but hibernation (mustIncreaseGenerationForSpecChanges in
 * pkg/apiserver/registry/core/shoot/strategy.go); gardener-controller-manager's maintenance controller annotates
 * `reconcile` in the window (getOperation in pkg/controllermanager/controller/shoot/maintenance/reconciler.go). So
 * such a shoot runs a new version in its next window, unless something forces a reconcile before.
 */
export function confinedToMaintenance(s: Pick<Shoot, 'spec'>): boolean {
  return s.spec.maintenance?.confineSpecUpdateRollout === true;
}

interface Unit {
  root: ObservedSeed;
  members: ObservedSeed[]; // root first, then managed seeds below it
  shoots: number;
  production: number;
  countable: number;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Round-robin over provider/region groups (groups and members in name order), so prefixes spread risk. */
function interleave(units: Unit[]): Unit[] {
  const groups = new Map<string, Unit[]>();
  for (const u of [...units].sort((a, b) => byName(a.root, b.root))) {
    const k = `${u.root.provider}/${u.root.region}`;
    groups.set(k, [...(groups.get(k) ?? []), u]);
  }
  const queues = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, q]) => q);
  const out: Unit[] = [];
  for (let i = 0; out.length < units.length; i++) {
    for (const q of queues) {
      const u = q[i];
      if (u) out.push(u);
    }
  }
  return out;
}

/** A seed the rollout may touch: not being deleted, and matching the rollout's seedSelector. */
export function inScope(seed: ObservedSeed, spec: Pick<CanaryRolloutSpec, 'seedSelector'>): boolean {
  return !seed.deleting && matchesSelector(seed.labels, spec.seedSelector);
}

/** Plan units (see the rules above): a managed seed follows its parent (gardenlet targets), or every seed is its own. */
export type UnitRule = 'managedSeedsFollowParent' | 'seedBySeed';

/** The unit rule of the spec's target kind (the target adapters say the same, targets/). */
export const unitRuleOf = (spec: CanaryRolloutSpec): UnitRule => (spec.target.gardenlet ? 'managedSeedsFollowParent' : 'seedBySeed');

export function planRollout(spec: CanaryRolloutSpec, seeds: readonly ObservedSeed[], shoots: readonly ObservedShoot[], now: Date, units: UnitRule = unitRuleOf(spec)): PlanResult {
  const notes: string[] = [];
  const scoped = seeds.filter((s) => inScope(s, spec)).sort(byName);
  const scopeNames = new Set(scoped.map((s) => s.name));

  const shootsBySeed = new Map<string, ObservedShoot[]>();
  for (const sh of shoots) {
    if (!sh.seed) continue;
    const list = shootsBySeed.get(sh.seed);
    if (list) list.push(sh);
    else shootsBySeed.set(sh.seed, [sh]);
  }
  const shootCount = (name: string) => shootsBySeed.get(name)?.length ?? 0;
  const excludeHibernated = spec.healthGate.exclude.hibernated;
  const countOf = (name: string, which: (sh: ObservedShoot) => boolean) => (shootsBySeed.get(name) ?? []).filter(which).length;
  // shoots left to their own maintenance window: confined ones, unless the rollout forces reconciles on them too
  const forcesConfined = spec.shootReconciliation.trigger && spec.shootReconciliation.includeConfinedToMaintenance;
  const waitsForWindow = (sh: ObservedShoot) => !forcesConfined && !!sh.confined && !sh.deleting && !sh.hibernated;

  // Units: for gardenlet targets, follow parent links up to the root; a parent outside the scope makes the
  // managed seed unmovable by us (its gardenlet follows a parent we may not touch).
  const followParent = units === 'managedSeedsFollowParent';
  const byNameMap = new Map(scoped.map((s) => [s.name, s]));
  const rootOf = (s: ObservedSeed): ObservedSeed | undefined => {
    const seen = new Set<string>();
    let cur: ObservedSeed = s;
    while (followParent && cur.parent) {
      if (seen.has(cur.name)) return undefined; // a cycle cannot be planned
      seen.add(cur.name);
      const p = byNameMap.get(cur.parent);
      if (!p) return undefined;
      cur = p;
    }
    return cur;
  };
  const byRoot = new Map<string, Unit>();
  const orphans: string[] = [];
  for (const s of scoped) {
    const root = rootOf(s);
    if (!root) {
      orphans.push(s.name);
      continue;
    }
    const u = byRoot.get(root.name) ?? { root, members: [], shoots: 0, production: 0, countable: 0 };
    u.members.push(s);
    u.shoots += shootCount(s.name);
    u.production += countOf(s.name, (sh) => isProduction(sh.purpose));
    u.countable += countOf(s.name, (sh) => !sh.deleting && !(excludeHibernated && sh.hibernated));
    byRoot.set(root.name, u);
  }
  for (const u of byRoot.values()) u.members.sort((a, b) => (a === u.root ? -1 : b === u.root ? 1 : byName(a, b)));
  if (orphans.length) {
    notes.push(`managed seeds whose parent is out of scope follow that parent and are not planned: ${orphans.join(', ')}`);
  }

  let remaining = [...byRoot.values()];
  const waves: Plan['waves'] = [];
  for (const [i, wave] of spec.waves.entries()) {
    let picked: Unit[] = [];
    if (wave.seedNames) {
      const wanted = new Set(wave.seedNames);
      picked = remaining.filter((u) => wanted.has(u.root.name));
      for (const n of wave.seedNames) {
        if (picked.some((u) => u.root.name === n)) continue;
        const unit = [...byRoot.values()].find((u) => u.members.some((m) => m.name === n));
        if (!scopeNames.has(n)) notes.push(`wave ${wave.name}: seed ${n} is not in scope or does not exist`);
        else if (unit && unit.root.name !== n) notes.push(`wave ${wave.name}: managed seed ${n} follows its parent ${unit.root.name}`);
        else notes.push(`wave ${wave.name}: seed ${n} is already planned in an earlier wave`);
      }
    } else if (wave.seedSelector) {
      picked = remaining.filter((u) => matchesSelector(u.root.labels, wave.seedSelector));
    } else if (wave.count !== undefined) {
      picked = interleave(remaining).slice(0, wave.count);
    } else if (wave.percent !== undefined) {
      const n = remaining.length === 0 ? 0 : Math.max(1, Math.ceil((wave.percent * remaining.length) / 100));
      picked = interleave(remaining).slice(0, n);
    } else if (wave.autoPick) {
      const r = autoPick(remaining, wave.autoPick, wave.healthGate?.minSampleSize ?? spec.healthGate.minSampleSize, wave.name);
      picked = r.picked;
      notes.push(...r.notes);
    }
    const pickedRoots = new Set(picked.map((u) => u.root.name));
    remaining = remaining.filter((u) => !pickedRoots.has(u.root.name));
    if (picked.length === 0) notes.push(`wave ${wave.name} (${i + 1}) selects no seeds`);

    const members = picked.sort((a, b) => byName(a.root, b.root)).flatMap((u) => u.members);
    const byPurpose: Record<string, number> = {};
    for (const m of members) for (const sh of shootsBySeed.get(m.name) ?? []) byPurpose[sh.purpose] = (byPurpose[sh.purpose] ?? 0) + 1;
    for (const u of picked) {
      if (u.members.length > 1) notes.push(`wave ${wave.name}: ${u.members.slice(1).map((m) => m.name).join(', ')} follow ${u.root.name} (managed seeds)`);
    }
    const confined = members.reduce((a, m) => a + countOf(m.name, waitsForWindow), 0);
    waves.push({
      name: wave.name,
      seeds: members.map((m) => ({ name: m.name, ...(followParent && m.parent ? { managedBy: m.parent } : {}) })),
      shoots: members.reduce((a, m) => a + shootCount(m.name), 0),
      shootsByPurpose: Object.fromEntries(Object.entries(byPurpose).sort(([a], [b]) => (a < b ? -1 : 1))),
      productionShoots: productionShoots(byPurpose),
      ...(confined ? { shootsConfinedToMaintenance: confined } : {}),
    });
  }

  const unplanned = [...remaining.flatMap((u) => u.members.map((m) => m.name)), ...orphans].sort();
  if (unplanned.length) notes.push(`${unplanned.length} in-scope seeds are in no wave and will not be touched`);
  const plannedSeeds = waves.reduce((a, w) => a + w.seeds.length, 0);
  return {
    plan: {
      computedAt: now.toISOString(),
      seeds: plannedSeeds,
      shoots: waves.reduce((a, w) => a + w.shoots, 0),
      waves,
      ...(unplanned.length ? { unplannedSeeds: unplanned } : {}),
    },
    notes,
  };
}

/** Production shoots from a wave's counts by purpose (also for plans stored before productionShoots existed). */
export function productionShoots(byPurpose: Readonly<Record<string, number>> | undefined): number {
  return Object.entries(byPurpose ?? {}).reduce((a, [p, n]) => a + (isProduction(p) ? n : 0), 0);
}

/**
 * Membership is snapshotted in the plan. Against a later observation:
 * - `vanished` planned seeds (deleted, or out of scope now) are skipped by their wave, never waited for;
 * - `appeared` in-scope seeds that are in no plan are never promoted: they are reported so an operator can start
 *   a follow-up rollout, and the run is not blocked by them.
 */
export function membershipChanges(plan: Plan, spec: CanaryRolloutSpec, seeds: readonly ObservedSeed[]): { vanished: string[]; appeared: string[] } {
  const planned = new Set(plan.waves.flatMap((w) => w.seeds.map((s) => s.name)));
  const known = new Set([...planned, ...(plan.unplannedSeeds ?? [])]);
  const nowInScope = new Set(seeds.filter((s) => inScope(s, spec)).map((s) => s.name));
  return {
    vanished: [...planned].filter((n) => !nowInScope.has(n)).sort(),
    appeared: [...nowInScope].filter((n) => !known.has(n)).sort(),
  };
}
