// 429/5xx on status writes and on effect patches (issue 15): the controller runs behind a fault proxy that, for
// FAULT_WRITES_SECONDS (default 30; `npm run bench -- faults` runs the 2 minutes), answers the rollout's
// status writes with 503 and its seed/gardenlet/managed seed patches with 429 + Retry-After, from the canary's bake
// on (scenario: test/bench/faults.bench.ts). Nothing is lost (the rollout finishes every wave, every in-scope seed
// ends on the new version, nothing out of scope is touched), the retries are bounded, and the backoff shows, in the
// gaps between attempts the proxy saw and in the retry log lines.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, gardenKubeconfig, uniquePrefix } from '../support/garden.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, RETRY_AFTER_SECONDS, faultWritesScenario, gaps, NEW_VERSION, OLD_VERSION, summary, type FaultWritesResult } from '../bench/faults.bench.js';

const WINDOW_SECONDS = Number(process.env.FAULT_WRITES_SECONDS ?? 30);
const WINDOW_MS = WINDOW_SECONDS * 1000;
const client = gardenClient();
let r: FaultWritesResult;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  r = await faultWritesScenario({ client, kubeconfig: gardenKubeconfig(), prefix: uniquePrefix('w'), windowSeconds: WINDOW_SECONDS, progress: (m) => process.stderr.write(`[fault-writes] ${new Date().toISOString()} ${m}\n`) });
  process.stderr.write(`[fault-writes] ${summary(r)}\n`);
}, WINDOW_MS + BACKOFF_MAX_MS + 240_000);

afterAll(() => client.kubeConfig.close());

/** The retry lines logged while the rules were on (the last one's retry is the first attempt after the window). */
const windowRetries = () => r.retries.filter((l) => l.at >= r.faultsFrom && l.at <= r.faultsUntil + 1000);

describe('429/503 on status writes and effect patches', () => {
  it('fails both paths during the window, and only the rollout\'s own writes', () => {
    const kinds = r.injected.map((e) => e.kind);
    expect(kinds).toContain('status');
    expect(kinds).toContain('seeds');
    // every answer the rules gave went to this rollout's status or this landscape's objects, none after the window
    expect(r.injected.length).toBe(r.ruleHits.status + r.ruleHits.effects);
    expect(r.injected.every((e) => e.at >= r.faultsFrom && e.at < r.faultsUntil)).toBe(true);
    expect(r.injected.filter((e) => e.kind === 'status').every((e) => e.status === 503)).toBe(true);
    expect(r.injected.filter((e) => e.kind !== 'status').every((e) => e.status === 429)).toBe(true);
  });

  it('retries a bounded number of times, with gaps that grow', () => {
    // backoff from 500 ms doubling: n retries take at least 500 * (2^n - 1) ms, so a window holds at most
    // log2(window / 500 + 1) of them, plus the first attempt and one for the seed event that starts it
    const bound = Math.floor(Math.log2(WINDOW_MS / BACKOFF_BASE_MS + 1)) + 2;
    expect(r.injected.length).toBeLessThanOrEqual(bound);
    expect(r.injected.length).toBeLessThan(WINDOW_MS / 100 / 10); // "far below one per 100 ms": below one a second
    const g = gaps(r);
    expect(g.length).toBeGreaterThanOrEqual(3);
    // each gap at least the one before (the backoff doubles, its jitter stretches by half at most; a 429's
    // Retry-After can make two in a row equal, less 100 ms of timer and network noise), up to the cap
    for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThanOrEqual(Math.min(g[i - 1]!, BACKOFF_MAX_MS) - 100);
    expect(g.at(-1)!).toBeGreaterThanOrEqual(3 * g[0]!);
  });

  it('logs every failed attempt with its attempt number and a growing retryInMs, and waits that long', () => {
    const lines = windowRetries();
    expect(lines.length).toBe(r.injected.length);
    expect(lines.map((l) => l.attempt)).toEqual(lines.map((_, i) => i + 1));
    for (const [i, l] of lines.entries()) {
      const d = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** i);
      // a 429 says Retry-After: the retry waits at least that long, whatever the backoff
      const atLeast = r.injected[i]!.status === 429 ? RETRY_AFTER_SECONDS * 1000 : 0;
      expect(l.retryInMs).toBeGreaterThanOrEqual(Math.max(d, atLeast));
      expect(l.retryInMs).toBeLessThanOrEqual(Math.max(1.5 * d, atLeast));
      if (i > 0) expect(l.retryInMs).toBeGreaterThanOrEqual(lines[i - 1]!.retryInMs);
      expect(l.error).toMatch(/injected (503|429)/);
    }
    // nothing brought a retry forward: the next attempt (failed, or the first write after the window) came no
    // sooner than the delay logged for it (less the time between the answer and the log line)
    const next = [...r.injected.slice(1).map((e) => e.at), r.firstStatusWriteAfter!];
    for (const [i, l] of lines.entries()) expect(next[i]! - r.injected[i]!.at).toBeGreaterThanOrEqual(l.retryInMs - 100);
  });

  it('loses nothing: after the window the rollout goes through every wave to Succeeded', () => {
    expect(r.firstStatusWriteAfter).toBeDefined();
    // the first attempt after the window is the retry the last failure scheduled, not a later one
    const last = windowRetries().at(-1)!;
    expect(r.firstStatusWriteAfter!).toBeLessThanOrEqual(last.at + last.retryInMs + 5_000);
    expect(r.canaryRepairedAt).toBeDefined(); // the seed patch owed during the window was sent
    expect(r.final.phase).toBe('Succeeded');
    expect(r.final.waves!.map((w) => [w.name, w.phase, w.seedsPromoted])).toEqual([
      ['canary', 'Succeeded', 1],
      ['early', 'Succeeded', 2],
      ['rest', 'Succeeded', 3],
    ]);
    expect(r.final.waves!.flatMap((w) => w.seeds!.map((s) => s.name)).sort()).toEqual(r.inScope);
    expect(r.final.waves![0]!.seeds![0]!.name).toBe(r.canary);
    // each wave started and succeeded once, in order
    const recorded = r.final.history!.filter((h) => h.event === 'WaveStarted' || h.event === 'WaveSucceeded').map((h) => `${h.event}:${h.wave}`);
    expect(recorded).toEqual(['WaveStarted:canary', 'WaveSucceeded:canary', 'WaveStarted:early', 'WaveSucceeded:early', 'WaveStarted:rest', 'WaveSucceeded:rest']);
    for (const s of r.inScope) expect([s, ...r.versions[s]!]).toEqual([s, NEW_VERSION, gardenletChartRef(NEW_VERSION)]);
  });

  it('touches no seed out of scope', () => {
    expect(r.outOfScope.length).toBe(2);
    for (const s of r.outOfScope) expect([s, ...r.versions[s]!]).toEqual([s, OLD_VERSION, gardenletChartRef(OLD_VERSION)]);
    expect(r.outOfScopeWrites).toEqual([]);
    expect(r.outOfScopeMarked).toEqual([]);
  });
});
