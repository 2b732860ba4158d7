// The worker loop: `config.workers` workers take rollouts from the queue, one rollout at a time each, and reconcile
// them; a failed reconcile is retried with backoff (the queue's), a result's requeue is honoured. Reconciles in
// flight are tracked, so that a wedged one fails liveness (/healthz).
import type { Histogram } from 'prom-client';
import { retryAfterMs } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import type { WorkQueue } from './queue.js';
import type { ReconcileResult } from './reconciler.js';

export class Workers {
  private running: Promise<void>[] = [];
  /** Rollouts being reconciled now, with when each reconcile started (liveness). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly queue: WorkQueue,
    private readonly reconcile: (rollout: string) => Promise<ReconcileResult>,
    private readonly durations: Histogram<'result'>,
    private readonly log: Logger,
  ) {}

  /** Starts `n` workers; they end when the queue is closed. */
  start(n: number): void {
    this.running = Array.from({ length: n }, () => this.work());
  }

  /** Resolves once every worker has ended (after the queue was closed). */
  async stopped(): Promise<void> {
    await Promise.all(this.running);
  }

  /** Reconciles that have run longer than `boundMs`, oldest first (what /healthz reports). */
  stuck(boundMs: number, now = Date.now()): { rollout: string; seconds: number }[] {
    return [...this.inFlight]
      .filter(([, since]) => now - since > boundMs)
      .sort((a, b) => a[1] - b[1])
      .map(([rollout, since]) => ({ rollout, seconds: Math.round((now - since) / 1000) }));
  }

  /** One worker: the queue hands a rollout to one worker at a time. */
  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.next();
      if (key === undefined) return;
      const end = this.durations.startTimer();
      this.inFlight.set(key, Date.now());
      try {
        this.log.debug('reconciling', { rollout: key });
        const r = await this.reconcile(key);
        this.log.debug('reconciled', { rollout: key, requeueAfterMs: r.requeueAfterMs, writes: r.converged });
        this.queue.forget(key);
        if (r.requeueAfterMs !== undefined) this.queue.add(key, r.requeueAfterMs);
        end({ result: r.conflict ? 'conflict' : 'ok' });
      } catch (err) {
        const delay = this.queue.addRateLimited(key, retryAfterMs(err)); // client-go's rest client honours Retry-After too
        this.log.error('reconcile failed, retrying', err, { rollout: key, retryInMs: delay, attempt: this.queue.failuresOf(key) });
        end({ result: 'error' });
      } finally {
        this.inFlight.delete(key);
        this.queue.done(key);
      }
    }
  }
}
