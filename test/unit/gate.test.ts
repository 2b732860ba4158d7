import { describe, expect, it } from '@jest/globals';
import { evaluateGate, failureBudget, wilsonLowerBound, zForConfidence } from '../../src/engine/gate.js';

describe('gate maths', () => {
  it('z for common confidence levels', () => {
    expect(zForConfidence(0.95)).toBeCloseTo(1.959964, 5);
    expect(zForConfidence(0.99)).toBeCloseTo(2.575829, 5);
    expect(zForConfidence(0.9)).toBeCloseTo(1.644854, 5);
  });

  it('Wilson lower bound matches reference values', () => {
    // 95 of 100 at z=1.96: 0.8882 (standard Wilson score interval)
    expect(wilsonLowerBound(95, 100, 1.959964)).toBeCloseTo(0.8882, 4);
    expect(wilsonLowerBound(10, 10, 1.959964)).toBeCloseTo(0.7225, 4);
    expect(wilsonLowerBound(0, 10, 1.959964)).toBe(0);
    expect(wilsonLowerBound(0, 0, 1.959964)).toBe(0);
  });

  const cases: [string, [number, number], { maxUnhealthyRatio: number; minSampleSize: number; confidence?: { level: number } }, string, string][] = [
    ['nothing counted yet', [0, 0], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'inconclusive', 'still sampling: 0 of 20 counted shoots'],
    ['below sample, no failure', [19, 0], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'inconclusive', 'still sampling: 19 of 20 counted shoots'],
    ['sample reached, healthy', [20, 0], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'pass', '0 unhealthy of 20 counted shoots is within 0.05'],
    ['below sample, one failure is within the budget of 1', [5, 1], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'inconclusive', 'still sampling: 6 of 20 counted shoots'],
    ['below sample, second failure exceeds it', [5, 2], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'fail', '2 unhealthy of 7 counted shoots exceeds the tolerated 1 (max ratio 0.05 of at least 20)'],
    ['exactly at the threshold passes', [19, 1], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'pass', '1 unhealthy of 20 counted shoots is within 0.05'],
    ['just over the threshold fails', [38, 3], { maxUnhealthyRatio: 0.05, minSampleSize: 20 }, 'fail', '3 unhealthy of 41 counted shoots exceeds the tolerated 2 (max ratio 0.05 of at least 20)'],
    ['zero tolerance: first failure halts', [0, 1], { maxUnhealthyRatio: 0, minSampleSize: 5 }, 'fail', '1 unhealthy of 1 counted shoots exceeds the tolerated 0 (max ratio 0 of at least 5)'],
    ['zero tolerance with a bound still passes without failures', [5, 0], { maxUnhealthyRatio: 0, minSampleSize: 5, confidence: { level: 0.95 } }, 'pass', '0 unhealthy of 5 counted shoots is within 0'],
    ['bound: 20/20 is not enough evidence for 5%', [20, 0], { maxUnhealthyRatio: 0.05, minSampleSize: 20, confidence: { level: 0.95 } }, 'inconclusive', 'healthy ratio lower bound 0.839 (confidence 0.95) below 0.950: need more evidence'],
    ['bound: 100/100 is', [100, 0], { maxUnhealthyRatio: 0.05, minSampleSize: 20, confidence: { level: 0.95 } }, 'pass', '0 unhealthy of 100 counted shoots is within 0.05'],
    ['bound does not soften a failure', [10, 5], { maxUnhealthyRatio: 0.05, minSampleSize: 20, confidence: { level: 0.95 } }, 'fail', '5 unhealthy of 15 counted shoots exceeds the tolerated 1 (max ratio 0.05 of at least 20)'],
    ['tolerance 100% never fails', [0, 50], { maxUnhealthyRatio: 1, minSampleSize: 20 }, 'pass', '50 unhealthy of 50 counted shoots is within 1'],
  ];
  it.each(cases)('%s', (_n, [healthy, unhealthy], params, want, reason) => {
    const r = evaluateGate({ healthy, unhealthy }, params);
    expect(r.outcome).toBe(want);
    expect(r.sample).toBe(healthy + unhealthy);
    expect(r.reason).toBe(reason);
  });

  it('the budget never tolerates more failures than a full sample would', () => {
    for (let min = 1; min <= 50; min++) {
      for (const max of [0, 0.01, 0.05, 0.1, 0.33, 0.5]) {
        for (let n = 0; n <= 60; n++) {
          const b = failureBudget(n, { maxUnhealthyRatio: max, minSampleSize: min });
          expect(b).toBe(Math.floor(max * Math.max(n, min) + 1e-9));
          // passing implies the raw ratio is within the threshold
          for (let u = 0; u <= n; u++) {
            const r = evaluateGate({ healthy: n - u, unhealthy: u }, { maxUnhealthyRatio: max, minSampleSize: min });
            if (r.outcome === 'pass') expect(u / n).toBeLessThanOrEqual(max + 1e-12);
            if (r.outcome === 'pass') expect(n).toBeGreaterThanOrEqual(min);
          }
        }
      }
    }
  });
});
