// A work queue keyed by rollout name: a key is processed by one worker at a time, adds while it is processed are
// kept (the key runs again afterwards), delayed adds keep the earliest due time, and failures back off
// exponentially per key, with jitter (util/backoff.ts), so that rollouts failing together (an API server answering
// 503) do not retry in lockstep. Delays live only here; the rollout's timing state is in its status.
import { Backoff } from '../util/backoff.js';

export class WorkQueue {
  private readonly due = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, Backoff>();
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly baseDelayMs = 500,
    private readonly maxDelayMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  add(key: string, delayMs = 0): void {
    if (this.closed) return;
    if (this.processing.has(key) && delayMs === 0) {
      this.dirty.add(key);
      return;
    }
    const at = this.now() + Math.max(0, delayMs);
    const cur = this.due.get(key);
    if (cur === undefined || at < cur) this.due.set(key, at);
    this.wake?.();
  }

  /** Requeue after a failure, with per-key exponential backoff stretched by up to half of itself at random. */
  addRateLimited(key: string): number {
    let b = this.failures.get(key);
    if (!b) this.failures.set(key, (b = new Backoff({ baseMs: this.baseDelayMs, maxMs: this.maxDelayMs, jitter: 0.5, random: this.random })));
    const delay = b.next();
    this.add(key, delay);
    return delay;
  }

  /** Failures in a row of a key (0 after forget). */
  failuresOf(key: string): number {
    return this.failures.get(key)?.attempts ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  get length(): number {
    return this.due.size;
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** Waits for the next due key that is not being processed; undefined once closed. */
  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const now = this.now();
      let best: [string, number] | undefined;
      for (const [k, at] of this.due) if (!this.processing.has(k) && (!best || at < best[1])) best = [k, at];
      if (best && best[1] <= now) {
        this.due.delete(best[0]);
        this.processing.add(best[0]);
        return best[0];
      }
      const wait = best ? best[1] - now : 60_000;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
