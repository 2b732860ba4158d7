// Size bounds of what the engine writes into a CanaryRollout, in one place: operator text is capped where it enters
// decide(), the texts the engine composes are capped where the status is built, and a plan that the status could
// not hold does not start. test/unit/bounds.test.ts measures the status at worst-case lengths against these numbers.
import type { CanaryRolloutStatus, ExtensionStatus, Plan } from '../api/v1alpha1.js';

type PlannedSeed = Plan['waves'][number]['seeds'][number];

/** Operator reason text (annotation canary.gardener.cloud/reason), as it goes into the history. */
export const MAX_REASON_BYTES = 1024;
/** An operation value the controller does not know, as it goes into the history and the notes. */
export const MAX_OPERATION_BYTES = 64;
/** Any history message (the engine's own can list seeds, e.g. of a halt). */
export const MAX_HISTORY_MESSAGE_BYTES = 2048;
/** status.message; the conditions and the persisted reason carry at most MAX_DETAIL_BYTES of the same text. */
export const MAX_MESSAGE_BYTES = 1024;
export const MAX_DETAIL_BYTES = 4096;

const encoder = new TextEncoder();

/** Bytes of `s` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD, as it is sent). */
export const utf8Bytes = (s: string): number => encoder.encode(s).length;

const bytesOf = (codePoint: number): number => (codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4);

/** The longest prefix of `s` of at most `max` bytes of UTF-8, cut between characters (code points). */
export function cutUtf8(s: string, max: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    bytes += bytesOf(ch.codePointAt(0) ?? 0);
    if (bytes > max) return s.slice(0, end);
    end += ch.length;
  }
  return s;
}

/**
 * `s` if it fits in `max` bytes of UTF-8; else a prefix cut between characters that says it was cut:
 * "… (truncated from N bytes)", all of it within `max` bytes.
 */
export function capText(s: string, max: number): string {
  const n = utf8Bytes(s);
  if (n <= max) return s;
  const suffix = ` … (truncated from ${n} bytes)`;
  return cutUtf8(s, Math.max(0, max - utf8Bytes(suffix))) + suffix;
}

// ---------------------------------------------------------------------------------------------------------
// Status budget
//
// etcd refuses a request over 1.5 MiB (--max-request-bytes), and the object holds spec, metadata (managedFields,
// last-applied) and the status. The status (what decide() returns, JSON) gets 1 MiB of that. Only three parts of it
// grow with the planned seeds, each in the smallest form that keeps what the rollout rests on:
// - status.plan: a seed's name, and its parent when it is a managed seed that moves with it (planner.ts);
// - status.machine: one row of numbers per seed (seed-table.ts): promotion, readiness and failure times as
//   milliseconds after the plan, an index into the distinct previous versions and charts (RevertAll restores them),
//   the parent for managed seeds; and the names a halt's emergency stop holds;
// - the distinct previous version and chart pairs: a handful in a real landscape, one per seed at worst.
// Everything else is bounded on its own: at most MAX_WAVES waves, MAX_SEED_DETAILS per-seed details over all waves
// (waves[].seeds), MAX_HISTORY history entries of at most MAX_HISTORY_MESSAGE_BYTES, the conditions. What a plan
// cannot know yet are the shoot keys of wave baselines and accepted failures (unhealthy shoots): a reserve is kept.
//
// The rule, checked before a rollout starts (TargetAdapter.start in targets/; a rollout that fails it waits in
// Pending, `blocked`):
//   STATUS_FIXED_BYTES + SHOOT_KEYS_RESERVE_BYTES + unplanned seed names + extension content
//     + the distinct previous version and chart pairs + the planned seeds  <=  STATUS_BUDGET_BYTES,
// each planned seed charged by seedStatusBytes(): its plan entry as it is, its row at its longest, its name in a
// halt's stops, its parent in the machine state; the previous pairs as observed now (they are what promotion records).
//
// Measured by test/unit/bounds.test.ts with every field at its longest (seed, parent and wave names of 63
// characters, versions of 128, a distinct 1.5 kB previous chart per seed, times years after the plan): the fixed
// part within STATUS_FIXED_BYTES and STATUS_BYTES_PER_SEED a seed, so MAX_PLANNED_SEEDS always fit. Real names
// and charts take about 60 bytes a seed: 3,000 seeds in about 200 KiB (`npm run bench -- engine`).

export const STATUS_BUDGET_BYTES = 1024 * 1024;
/** Everything but the seeds at worst case (20 waves, 100 per-seed details, 100 history entries, conditions, machine state). */
export const STATUS_FIXED_BYTES = 340 * 1024;
/** Baseline and accepted shoot keys ("namespace/name", at most 63 + 1 + 21 bytes + JSON): about 1,500 of them. */
export const SHOOT_KEYS_RESERVE_BYTES = 128 * 1024;
/** One planned seed with every field at its longest, its own previous chart included. */
export const STATUS_BYTES_PER_SEED = 2200;
/** A plan of this many seeds fits whatever their lengths; a larger one fits if its seeds are shorter. */
export const MAX_PLANNED_SEEDS = Math.floor((STATUS_BUDGET_BYTES - STATUS_FIXED_BYTES - SHOOT_KEYS_RESERVE_BYTES) / STATUS_BYTES_PER_SEED);

/** What the seeds look like now: their versions and gardenlet charts (what promotion records). */
export interface SeedFacts {
  versions: Readonly<Record<string, string | undefined>>;
  refs: Readonly<Record<string, unknown>>;
}

/** A row at its longest (seed-table.ts): brackets, five times of 13 digits, a previous index of 6, the vanished flag, five commas, the separator. */
const LONGEST_ROW_BYTES = 2 + 5 * 13 + 6 + 1 + 5 + 1;

/** The bytes one planned seed takes in the status at most: its plan entry, its row, its name in a halt's stops, its parent. */
export function seedStatusBytes(seed: PlannedSeed): number {
  const name = utf8Bytes(seed.name);
  const parent = seed.managedBy ? name + utf8Bytes(seed.managedBy) + 6 : 0;
  return utf8Bytes(JSON.stringify(seed)) + 1 + LONGEST_ROW_BYTES + name + 3 + parent;
}

/** The distinct previous version and chart pairs promotion would record for these seeds, as observed now (seed-table.ts). */
export function previousPairsBytes(seeds: readonly string[], facts: SeedFacts): number {
  const pairs = new Set(seeds.map((n) => JSON.stringify({ version: facts.versions[n], ref: facts.refs[n] })));
  let bytes = 0;
  for (const p of pairs) bytes += utf8Bytes(p) + 1;
  return bytes;
}

/**
 * Why the status could not hold this plan, or undefined when it can. What is known at planning is charged as it is
 * (the seeds, the names of unplanned seeds, the extension's recorded previous content), the rest at worst case.
 */
export function statusBudgetProblem(plan: Plan, target: 'gardenlet' | 'extension', facts: SeedFacts, extension?: ExtensionStatus): string | undefined {
  const planned = plan.waves.flatMap((w) => w.seeds);
  const exact = utf8Bytes(JSON.stringify(plan.unplannedSeeds ?? [])) + (extension ? utf8Bytes(JSON.stringify(extension)) : 0);
  const room = STATUS_BUDGET_BYTES - STATUS_FIXED_BYTES - SHOOT_KEYS_RESERVE_BYTES - exact;
  let bytes = previousPairsBytes(planned.map((s) => s.name), facts);
  for (const s of planned) bytes += seedStatusBytes(s);
  if (bytes <= room) return undefined;
  const perSeed = Math.ceil(bytes / Math.max(1, plan.seeds));
  const limit = Math.max(0, Math.floor(room / perSeed));
  const less = exact > 1024 ? ` (${exact} bytes of it go to unplanned seed names and recorded extension content)` : '';
  const advice =
    target === 'gardenlet'
      ? `split it by spec.seedSelector into rollouts of at most ${limit} seeds`
      : 'an extension rollout cannot be split (its ControllerDeployment serves every seed)';
  return (
    `cannot start: the plan holds ${plan.seeds} seeds, more than the ${limit} a rollout's status can track within its budget of ` +
    `${STATUS_BUDGET_BYTES} bytes${less} at the ${perSeed} bytes each of these seeds takes (any ${MAX_PLANNED_SEEDS} seeds always fit); ${advice}`
  );
}

/** History entries a compacted status keeps (the newest). */
export const COMPACT_HISTORY = 20;

/**
 * The status in a smaller form, for when the API server refuses the full one for its size: the per-seed details of
 * the waves (derived, rebuilt on every decision) go, and the history keeps its newest entries. Everything the
 * rollout's decisions and convergence rest on (status.machine, plan, extension) stays, so a halt, a revert or a
 * release is persisted whatever the size.
 */
export function compactStatus(status: CanaryRolloutStatus, now: Date): CanaryRolloutStatus {
  const waves = status.waves?.map(({ seeds: _seeds, ...w }) => w);
  const msg = `the full status did not fit the API server's object size limit: per-seed details are left out and the history keeps its newest ${COMPACT_HISTORY} entries`;
  const conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'StatusCompacted'), { type: 'StatusCompacted', status: 'True' as const, reason: 'ObjectTooLarge', message: msg, lastTransitionTime: now.toISOString() }];
  return { ...status, ...(waves ? { waves } : {}), history: (status.history ?? []).slice(-COMPACT_HISTORY), conditions };
}
