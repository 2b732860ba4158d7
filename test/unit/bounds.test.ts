// Bounded inputs: operator text, durations and plan sizes cannot make decide() throw or the status outgrow its
// budget. The status budget is measured here at worst-case field lengths (src/engine/bounds.ts states them).
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, MAX_SEED_DETAILS, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { DURATION, MAX_DURATION_MS, durationMs } from '../../src/util/duration.js';
import {
  MAX_DETAIL_BYTES,
  MAX_HISTORY_MESSAGE_BYTES,
  MAX_PLANNED_SEEDS,
  MAX_REASON_BYTES,
  SHOOT_KEYS_RESERVE_BYTES,
  STATUS_BUDGET_BYTES,
  STATUS_BYTES_PER_SEED,
  STATUS_FIXED_BYTES,
  capText,
  cutUtf8,
  previousPairsBytes,
  seedStatusBytes,
  type SeedFacts,
  statusBudgetProblem,
  utf8Bytes,
} from '../../src/engine/bounds.js';
import { decide } from '../../src/engine/decide.js';
import { convergeEffects, desiredGarden } from '../../src/engine/desired.js';
import type { Observation } from '../../src/engine/evaluate.js';
import { World } from '../../src/sim/world.js';
import { LONGEST_SHOOT_KEY, PREVIOUS_REF, VERSION, label63, previousRef, worstCaseStatus } from '../support/worst-case-status.js';

const ISO = '2026-03-04T05:06:07.890Z';

const text = (n: number) => 'x'.repeat(n);

function gardenletSpec(extra: Record<string, unknown> = {}): CanaryRolloutSpec {
  return CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [{ name: 'canary', seedNames: ['aws-a'], healthGate: { minSampleSize: 1 } }, { name: 'rest', percent: 100 }],
    healthGate: { minSampleSize: 1 },
    ...extra,
  });
}

function world(): World {
  const w = new World(3, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(), badSeedFailureRate: 0, noiseRate: 0, userErrorShare: 0 });
  for (const name of ['aws-a', 'aws-b']) {
    w.addSeed({ name, provider: 'aws', region: 'r1', labels: {} });
    for (let j = 0; j < 3; j++) w.addShoot({ namespace: 'garden-p', name: `${name}-${j}`, seed: name, hibernated: false, health: 'healthy', userError: false });
  }
  return w;
}

/** decide() until the rollout is progressing (the canary wave started). */
function started(spec: CanaryRolloutSpec, w: World): CanaryRolloutStatus {
  let status: CanaryRolloutStatus | undefined;
  for (let i = 0; i < 5 && status?.phase !== 'Progressing'; i++) {
    const obs = w.observation();
    const d = decide({ spec, generation: 1, status, observation: obs, now: new Date(w.now) });
    status = JSON.parse(JSON.stringify(d.status)) as CanaryRolloutStatus;
    w.apply(convergeEffects(desiredGarden(spec, status, obs)));
    w.advance(1000);
  }
  expect(status?.phase).toBe('Progressing');
  return status!;
}

describe('operator reason and operation text', () => {
  it('keeps text that fits and cuts longer text between characters, saying so', () => {
    expect(capText('short', 1024)).toBe('short');
    const fits = 'é'.repeat(512); // exactly 1024 bytes
    expect(capText(fits, 1024)).toBe(fits);
    const long = 'é'.repeat(513); // 1026 bytes
    const capped = capText(long, 1024);
    expect(capped).toMatch(/^é+ … \(truncated from 1026 bytes\)$/);
    expect(utf8Bytes(capped)).toBeLessThanOrEqual(1024);
    // a 4-byte character is never split, nor a surrogate pair
    expect(cutUtf8('a😀b', 4)).toBe('a');
    expect(cutUtf8('a😀b', 5)).toBe('a😀');
    const emoji = capText('😀'.repeat(400), 1024);
    expect(utf8Bytes(emoji)).toBeLessThanOrEqual(1024);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('caps the reason at 1 KiB where it enters decide() and says so in the history', () => {
    const spec = gardenletSpec();
    const w = world();
    const status = started(spec, w);
    const reason = `change freeze: ${'ü'.repeat(100_000)}`;
    const d = decide({ spec, generation: 1, status, operation: { value: 'pause', reason, actor: 'alice' }, observation: w.observation(), now: new Date(w.now) });
    expect(d.status.phase).toBe('Paused');
    const entry = d.status.history!.at(-1)!;
    expect(entry).toMatchObject({ kind: 'Operation', event: 'pause', actor: 'alice' });
    expect(entry.message).toMatch(new RegExp(`^change freeze: ü+ … \\(truncated from ${utf8Bytes(reason)} bytes\\)$`));
    expect(utf8Bytes(entry.message!)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    // the status message and the event carry the capped text, not the 200 kB
    expect(utf8Bytes(d.status.message!)).toBeLessThanOrEqual(1024);
    expect(d.events.every((e) => utf8Bytes(e.message) < 2 * MAX_REASON_BYTES)).toBe(true);
    expect(utf8Bytes(JSON.stringify(d.status))).toBeLessThan(utf8Bytes(JSON.stringify(status)) + 8 * MAX_REASON_BYTES);
  });

  it('caps an unknown operation value in the history and the notes', () => {
    const spec = gardenletSpec();
    const w = world();
    const status = started(spec, w);
    const op = `yolo${'!'.repeat(100_000)}`;
    const d = decide({ spec, generation: 1, status, operation: { value: op }, observation: w.observation(), now: new Date(w.now) });
    const entry = d.status.history!.at(-1)!;
    expect(entry).toMatchObject({ kind: 'Operation', reason: 'Unknown' });
    expect(entry.event).toMatch(/^yolo!* … \(truncated from 100004 bytes\)$/);
    expect(utf8Bytes(entry.event)).toBeLessThanOrEqual(64);
    expect(d.notes.every((n) => n.length < 200)).toBe(true);
  });
});

describe('durations', () => {
  it('are bounded to 8760h in the schema, counting every unit', () => {
    const parse = (bake: string) => CanaryRolloutSpec.safeParse({ ...gardenletSpec(), bake });
    for (const ok of ['8760h', '525600m', '31536000s', '8759h59m60s', '0s', '1h30m']) expect([ok, parse(ok).success]).toEqual([ok, true]);
    for (const bad of ['8761h', '8760h1s', '525601m', '99999999999999999999h', '1000000h']) {
      const r = parse(bad);
      expect([bad, r.success]).toEqual([bad, false]);
      expect(r.error!.issues.map((i) => i.path.join('.'))).toContain('bake');
    }
    expect(CanaryRolloutSpec.safeParse({ ...gardenletSpec(), progressDeadline: '8761h' }).error?.issues[0]?.message).toMatch(/at most 8760h/);
  });

  it('never overflow Go or JavaScript within the pattern', () => {
    // the longest value the pattern admits is far below Go's time.Duration limit of 2562047h
    const longest = '999999h9999999m999999999s';
    expect(DURATION.test(longest)).toBe(true);
    expect(999999 + 9999999 / 60 + 999999999 / 3600).toBeLessThan(2562047);
    expect(durationMs(longest)).toBe(MAX_DURATION_MS);
  });

  it('are clamped by the engine, so decide() never throws on a spec stored before the bound', () => {
    // what the old schema admitted and made every reconcile throw a RangeError (Invalid time value)
    const stored = { ...gardenletSpec(), progressDeadline: '99999999999999999999h', bake: '99999999999999999999h' } as CanaryRolloutSpec;
    expect(durationMs(stored.progressDeadline)).toBe(MAX_DURATION_MS);
    const w = world();
    const status = started(stored, w);
    const wave = status.waves![0]!;
    expect(Date.parse(wave.deadline!) - Date.parse(wave.startedAt!)).toBe(MAX_DURATION_MS);
    // and on through the bake
    let s = status;
    for (let i = 0; i < 200 && !s.waves![0]!.bakeUntil; i++) {
      const obs = w.observation();
      const d = decide({ spec: stored, generation: 1, status: s, observation: obs, now: new Date(w.now) });
      s = JSON.parse(JSON.stringify(d.status)) as CanaryRolloutStatus;
      w.apply(convergeEffects(desiredGarden(stored, s, obs)));
      w.advance(5 * 60_000);
    }
    expect(s.waves![0]!.phase).toBe('Baking');
    expect(Date.parse(s.waves![0]!.bakeUntil!) - Date.parse(s.waves![0]!.exposedAt!)).toBe(MAX_DURATION_MS);
  });
});

const bytes = (s: unknown) => utf8Bytes(JSON.stringify(s));

describe('status budget', () => {
  // each worst case built once
  const built = new Map<number, CanaryRolloutStatus>();
  const worst = (n: number) => built.get(n) ?? built.set(n, worstCaseStatus(n)).get(n)!;
  // past MAX_SEED_DETAILS seeds the per-seed details are all listed: what grows from there is what each seed costs
  const perSeed = (bytes(worst(500)) - bytes(worst(400))) / 100;
  const fixed = bytes(worst(400)) - 400 * perSeed;
  const charged = (n: number) => {
    const seeds = worst(n).plan!.waves.flatMap((w) => w.seeds);
    const names = seeds.map((s) => s.name);
    const facts: SeedFacts = { versions: Object.fromEntries(names.map((k) => [k, VERSION])), refs: Object.fromEntries(names.map((k, i) => [k, previousRef(i)])) };
    return previousPairsBytes(names, facts) + seeds.reduce((a, s) => a + seedStatusBytes(s), 0);
  };

  it('measures the bytes per planned seed and the fixed part within the constants', () => {
    expect(perSeed).toBeLessThanOrEqual(STATUS_BYTES_PER_SEED);
    expect(fixed).toBeLessThanOrEqual(STATUS_FIXED_BYTES);
    // the constants are measured, not guessed: within 10% of the measurement
    expect(perSeed).toBeGreaterThan(STATUS_BYTES_PER_SEED * 0.9);
    expect(fixed).toBeGreaterThan(STATUS_FIXED_BYTES * 0.9);
  });

  it('charges each seed at least what it takes in a real status, below and above the per-seed details cap', () => {
    for (const n of [0, 1, 50, MAX_SEED_DETAILS, 400]) expect(bytes(worst(n))).toBeLessThanOrEqual(STATUS_FIXED_BYTES + charged(n));
    expect(charged(500) - charged(400)).toBeGreaterThanOrEqual(bytes(worst(500)) - bytes(worst(400)));
    expect(charged(400) / 400).toBeLessThanOrEqual(STATUS_BYTES_PER_SEED);
  });

  it('keeps a status at the seed limit, with the shoot-key reserve used up, under the budget', () => {
    const keys = Math.floor(SHOOT_KEYS_RESERVE_BYTES / (utf8Bytes(LONGEST_SHOOT_KEY) + 3));
    const status = worstCaseStatus(MAX_PLANNED_SEEDS, keys);
    expect(status.waves!.reduce((a, w) => a + w.seeds!.length, 0)).toBe(MAX_SEED_DETAILS);
    expect(status.waves!.reduce((a, w) => a + w.seeds!.length + (w.seedsOmitted ?? 0), 0)).toBe(MAX_PLANNED_SEEDS);
    expect(bytes(status)).toBeLessThanOrEqual(STATUS_BUDGET_BYTES);
    // what the engine composes is capped
    expect(status.history!.every((h) => utf8Bytes(h.message!) <= MAX_HISTORY_MESSAGE_BYTES)).toBe(true);
    expect(status.conditions!.every((c) => utf8Bytes(c.message) <= MAX_DETAIL_BYTES)).toBe(true);
    expect(utf8Bytes(status.message!)).toBeLessThanOrEqual(1024);
  });
});

describe('a plan over the status budget', () => {
  const faults = { badSeeds: new Set<string>(), badSeedFailureRate: 0, noiseRate: 0, userErrorShare: 0 };
  const OLD = VERSION.replace('v1.150.0', 'v1.149.0');
  /** n seeds with every field at its longest: names, providers, regions and parents of 63, versions of 128, 1.5 kB charts. */
  function worstLandscape(n: number, extension = false): { world: World; observation: () => Observation } {
    const w = new World(5, OLD, VERSION, faults);
    const names = Array.from({ length: n }, (_, i) => label63('s', i));
    names.forEach((name, i) => w.addSeed({ name, provider: label63('p', i), region: label63('r', i), labels: {}, ...(i > 0 ? { parent: names[0]! } : {}) }));
    if (extension) w.enableExtension('ext', true);
    const observation = () => {
      const o = w.observation();
      return { ...o, gardenletRefs: new Map(o.seeds.map((s, i) => [s.name, previousRef(i)])) };
    };
    return { world: w, observation };
  }
  const gardenlet = CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: VERSION } },
    waves: [{ name: 'canary', count: 1 }, { name: 'rest', percent: 100 }],
  });
  const run = (n: number) => {
    const { world, observation } = worstLandscape(n);
    return decide({ spec: gardenlet, generation: 1, observation: observation(), now: new Date(world.now) });
  };

  it('starts a plan at the seed limit at worst-case lengths', () => {
    const d = run(MAX_PLANNED_SEEDS);
    expect(d.status.phase).toBe('Planning');
    expect(d.status.plan!.seeds).toBe(MAX_PLANNED_SEEDS);
  });

  it('does not start a plan over it: it waits in Pending, naming the seeds and the limit, and says so once; at that limit it starts', () => {
    const n = MAX_PLANNED_SEEDS + 20;
    const { world, observation } = worstLandscape(n);
    let status: CanaryRolloutStatus | undefined;
    for (let i = 0; i < 3; i++) {
      const d = decide({ spec: gardenlet, generation: 1, status, observation: observation(), now: new Date(world.now) });
      expect(convergeEffects(desiredGarden(gardenlet, d.status, observation()))).toEqual([]);
      status = JSON.parse(JSON.stringify(d.status)) as CanaryRolloutStatus;
      world.advance(30_000);
    }
    expect(status!.phase).toBe('Pending');
    expect(status!.plan).toBeUndefined();
    const m = new RegExp(
      `^cannot start: the plan holds ${n} seeds, more than the (\\d+) a rollout's status can track within its budget of ${STATUS_BUDGET_BYTES} bytes ` +
        `at the (\\d+) bytes each of these seeds takes \\(any ${MAX_PLANNED_SEEDS} seeds always fit\\); split it by spec.seedSelector into rollouts of at most \\1 seeds$`,
    ).exec(status!.message!);
    expect(m).not.toBeNull();
    const [limit, perSeed] = [Number(m![1]), Number(m![2])];
    expect(limit).toBeGreaterThanOrEqual(MAX_PLANNED_SEEDS);
    expect(limit).toBeLessThan(n);
    expect(perSeed).toBeLessThanOrEqual(STATUS_BYTES_PER_SEED);
    expect(status!.history!.filter((h) => h.event === 'Waiting')).toEqual([expect.objectContaining({ reason: 'StatusTooLarge', message: status!.message })]);
    expect(status!.conditions!.find((c) => c.type === 'Waiting')).toMatchObject({ status: 'True', reason: 'StatusTooLarge' });
    // the limit it names is the one that holds
    expect(run(limit).status.phase).toBe('Planning');
    expect(run(limit + 1).status.phase).toBe('Pending');
  });

  it('starts larger plans whose seeds take fewer bytes, e.g. 1,000 seeds of realistic length', () => {
    const w = new World(6, 'v1.149.3', 'v1.150.0', faults);
    for (let i = 0; i < 1000; i++) w.addSeed({ name: `aws-eu${i % 3}-prod-${i}`, provider: 'aws', region: `eu-central-${i % 3}`, labels: {} });
    const o = w.observation();
    const observation = { ...o, gardenletRefs: new Map(o.seeds.map((s) => [s.name, { ref: 'europe-docker.pkg.dev/gardener-project/releases/charts/gardener/gardenlet:v1.149.3' }])) };
    const spec = CanaryRolloutSpec.parse({ ...gardenlet, target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } } });
    expect(decide({ spec, generation: 1, observation, now: new Date(w.now) }).status.phase).toBe('Planning');
  });

  it('does not start an extension rollout over it either, nor one whose recorded content leaves less room', () => {
    // an extension's seeds do not move with a parent: fewer bytes each than a gardenlet rollout's at worst case
    const n = Math.ceil(MAX_PLANNED_SEEDS * 1.3);
    const { world, observation } = worstLandscape(n, true);
    const spec = CanaryRolloutSpec.parse({
      target: { extension: { controllerDeployment: 'ext', version: 'v1.1.0', helm: { ociRepository: { ref: 'r/ext:v1.1.0' } }, strategy: 'ReconcileGate' } },
      waves: [{ name: 'canary', count: 1 }, { name: 'rest', percent: 100 }],
    });
    const d = decide({ spec, generation: 1, observation: observation(), now: new Date(world.now) });
    expect(d.status.phase).toBe('Pending');
    expect(d.status.message).toMatch(new RegExp(`^cannot start: the plan holds ${n} seeds, more than the \\d+ .*an extension rollout cannot be split`));

    // 300 kB of previous helm content (Freeze records it too) leaves room for fewer seeds
    const seeds = Array.from({ length: 700 }, (_, i) => ({ name: label63('s', i), managedBy: label63('m', i) }));
    const plan = { computedAt: ISO, seeds: seeds.length, shoots: 0, waves: [{ name: 'all', seeds, shoots: 0 }] };
    const facts = { versions: Object.fromEntries(seeds.map((s) => [s.name, VERSION])), refs: Object.fromEntries(seeds.map((s) => [s.name, PREVIOUS_REF])) };
    const extension = { strategy: 'ReconcileGate' as const, reason: 'r', registrations: ['ext'], previous: { helm: { values: { blob: text(300_000) } } } };
    expect(statusBudgetProblem(plan, 'extension', facts)).toBeUndefined();
    expect(statusBudgetProblem(plan, 'extension', facts, extension)).toMatch(/more than the \d+ a rollout's status can track within its budget of 1048576 bytes \(300\d{3} bytes of it go to unplanned seed names and recorded extension content\)/);
  });
});
