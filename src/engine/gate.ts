// The health gate: pass, fail or inconclusive for a wave (and fail for the rollout overall), from counts.
//
// - Fail uses a failure budget: the number of unhealthy shoots the threshold allows at the larger of the sample
//   and the minimum sample size. Below the minimum sample a wave therefore tolerates exactly the failures a full
//   sample would, no more: with maxUnhealthyRatio 0 the first unhealthy shoot halts, with 5% of 20 the second.
// - Pass needs at least minSampleSize counted shoots and a ratio within the threshold; with a confidence bound,
//   the Wilson lower bound of the healthy ratio must also reach 1 - maxUnhealthyRatio. A zero tolerance cannot
//   be certified by a bound on a finite sample, so there the bound is not applied (no failure at all suffices).
// - Anything else is inconclusive: keep sampling. Never a pass.

export interface GateParams {
  maxUnhealthyRatio: number;
  minSampleSize: number;
  confidence?: { level: number } | undefined;
}

export type GateOutcome = 'pass' | 'fail' | 'inconclusive';

export interface GateResult {
  outcome: GateOutcome;
  sample: number;
  unhealthyRatio: number | undefined;
  /** Unhealthy shoots the threshold tolerates at this sample. */
  budget: number;
  /** Wilson lower bound of the healthy ratio, when a confidence level is set. */
  healthyLowerBound?: number;
  /** Why, in words, for the notes and the status message. */
  reason: string;
}

/** Two-sided standard normal quantile for a confidence level (e.g. 0.95 -> 1.96), by Acklam's approximation. */
export function zForConfidence(level: number): number {
  if (!(level > 0 && level < 1)) throw new Error(`confidence level must be within (0, 1), got ${level}`);
  return normalQuantile(1 - (1 - level) / 2);
}

function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  const poly = (coef: number[], x: number) => coef.reduce((acc, k) => acc * x + k, 0);
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** Wilson score interval lower bound for `successes` out of `n` at normal quantile z. */
export function wilsonLowerBound(successes: number, n: number, z: number): number {
  if (n === 0) return 0;
  const p = successes / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - margin) / (1 + z2 / n));
}

/** Unhealthy shoots tolerated at this sample (never below zero). Small epsilon guards float noise: 0.05*20 = 1. */
export function failureBudget(sample: number, p: GateParams): number {
  return Math.floor(p.maxUnhealthyRatio * Math.max(sample, p.minSampleSize) + 1e-9);
}

export function evaluateGate(counts: { healthy: number; unhealthy: number }, p: GateParams): GateResult {
  const sample = counts.healthy + counts.unhealthy;
  const unhealthyRatio = sample > 0 ? counts.unhealthy / sample : undefined;
  const budget = failureBudget(sample, p);
  const base = { sample, unhealthyRatio, budget };
  const confidence = p.confidence;
  const bound = confidence ? wilsonLowerBound(counts.healthy, sample, zForConfidence(confidence.level)) : undefined;
  const withBound = bound === undefined ? {} : { healthyLowerBound: bound };

  if (counts.unhealthy > budget) {
    return {
      ...base,
      ...withBound,
      outcome: 'fail',
      reason: `${counts.unhealthy} unhealthy of ${sample} counted shoots exceeds the tolerated ${budget} (max ratio ${p.maxUnhealthyRatio} of at least ${p.minSampleSize})`,
    };
  }
  if (sample < p.minSampleSize) {
    return { ...base, ...withBound, outcome: 'inconclusive', reason: `still sampling: ${sample} of ${p.minSampleSize} counted shoots` };
  }
  if (confidence && bound !== undefined && p.maxUnhealthyRatio > 0 && bound < 1 - p.maxUnhealthyRatio) {
    return {
      ...base,
      ...withBound,
      outcome: 'inconclusive',
      reason: `healthy ratio lower bound ${bound.toFixed(3)} (confidence ${confidence.level}) below ${(1 - p.maxUnhealthyRatio).toFixed(3)}: need more evidence`,
    };
  }
  return { ...base, ...withBound, outcome: 'pass', reason: `${counts.unhealthy} unhealthy of ${sample} counted shoots is within ${p.maxUnhealthyRatio}` };
}
