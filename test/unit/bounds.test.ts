// Bounded inputs: operator text and durations cannot make decide() throw or the status grow without bound.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, DURATION, MAX_DURATION_MS, durationMs, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { MAX_REASON_BYTES, capText, cutUtf8, utf8Bytes } from '../../src/engine/bounds.js';
import { decide } from '../../src/engine/decide.js';
import { World } from '../../src/sim/world.js';

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
    const d = decide({ spec, generation: 1, status, observation: w.observation(), now: new Date(w.now) });
    status = JSON.parse(JSON.stringify(d.status)) as CanaryRolloutStatus;
    w.apply(d.effects);
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
    expect(d.status.message!.length).toBeLessThanOrEqual(1024);
    expect(d.effects.filter((e) => e.type === 'emitEvent').every((e) => utf8Bytes((e as { message: string }).message) < 2 * MAX_REASON_BYTES)).toBe(true);
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
      const d = decide({ spec: stored, generation: 1, status: s, observation: w.observation(), now: new Date(w.now) });
      s = JSON.parse(JSON.stringify(d.status)) as CanaryRolloutStatus;
      w.apply(d.effects);
      w.advance(5 * 60_000);
    }
    expect(s.waves![0]!.phase).toBe('Baking');
    expect(Date.parse(s.waves![0]!.bakeUntil!) - Date.parse(s.waves![0]!.exposedAt!)).toBe(MAX_DURATION_MS);
  });
});

