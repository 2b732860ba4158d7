// A work queue keyed by rollout name: a key is processed by one worker at a time, adds while it is processed are
// kept (the key runs again afterwards), delayed adds keep the earliest due time, and failures back off
// exponentially per key, with jitter (util/backoff.ts), so that rollouts failing together (an API server answering
// 503) do not retry in lockstep. Delays live only here; the rollout's timing state is in its status.
// A key backing off is not run before its retry by a delayed add (the landscape changed, a requeue): on a busy
// landscape shoots change every second, and a failing rollout would otherwise retry at that rate whatever the
// backoff. An immediate add (the rollout itself changed, e.g. an operation; a resync) still runs it at once.
import { Backoff } from '../util/backoff.js';

export class WorkQueue {
  private readonly due = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, Backoff>();
  /** When each key backing off may run again (until forget). */
  private readonly retryAt = new Map<string, number>();
  /**
   * Every worker waiting in next(). (One slot for all of them woke only the last to wait, and the first woken emptied
   * it: close() left the other workers asleep for up to a minute, and a key added meanwhile waited for a timer.)
   */
  private readonly waiters = new Set<() => void>();
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
    let at = this.now() + Math.max(0, delayMs);
    // (issue 15: a shoot event every second brought a rollout failing on 503s back every second, 5-minute backoff or not)
    const retry = this.retryAt.get(key);
    if (delayMs > 0 && retry !== undefined) at = Math.max(at, retry);
    const cur = this.due.get(key);
    if (cur === undefined || at < cur) this.due.set(key, at);
    this.wakeAll();
  }

  /**
   * Requeue after a failure, with per-key exponential backoff stretched by up to half of itself at random, and no
   * sooner than `atLeastMs` (the server's Retry-After).
   */
  addRateLimited(key: string, atLeastMs = 0): number {
    let b = this.failures.get(key);
    if (!b) this.failures.set(key, (b = new Backoff({ baseMs: this.baseDelayMs, maxMs: this.maxDelayMs, jitter: 0.5, random: this.random })));
    const delay = Math.max(b.next(), atLeastMs);
    const at = this.now() + delay;
    this.retryAt.set(key, at);
    // the retry replaces a due time that a delayed add set while the key failed (it sees that change anyway)
    if (!this.closed) {
      this.due.set(key, at);
      this.wakeAll();
    }
    return delay;
  }

  /** Failures in a row of a key (0 after forget). */
  failuresOf(key: string): number {
    return this.failures.get(key)?.attempts ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
    this.retryAt.delete(key);
  }

  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.delete(key)) return;
    // changed while it ran: again, but not before a retry its failure scheduled
    const retry = this.retryAt.get(key);
    this.add(key, retry === undefined ? 0 : Math.max(1, retry - this.now()));
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  get length(): number {
    return this.due.size;
  }

  close(): void {
    this.closed = true;
    this.wakeAll();
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
        const wake = () => {
          clearTimeout(t);
          this.waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, wait);
        this.waiters.add(wake);
      });
    }
  }
}
