// Exponential backoff with jitter, the shape client-go's reflector uses (wait.NewExponentialBackoffManager in
// k8s.io/client-go/tools/cache/reflector.go: 800 ms initial, factor 2, cap 30 s, jitter 1.0): after n failures in a
// row the delay is base * 2^(n-1), capped, then stretched by up to `jitter` times itself at random, so that many
// clients failing together (an API server restart) do not come back in lockstep.
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** 1.0: the delay is stretched to a random point in [d, 2d). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 800;
    this.maxMs = o.maxMs ?? 30_000;
    this.jitter = o.jitter ?? 1;
    this.random = o.random ?? Math.random;
  }

  /** The delay before the next attempt after one more failure. */
  next(): number {
    this.failures++;
    const d = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(d * (1 + this.jitter * this.random()));
  }

  /** Failures in a row so far. */
  get attempts(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
