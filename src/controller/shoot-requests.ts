// Reconcile requests to shoots (gardener.cloud/operation=reconcile, or retry for a Failed shoot), at most at a
// rollout's rate: a token bucket per rollout, kept in memory (a rate, not a record: restarts only refill it).
import type { ShootOperation } from '../engine/effects.js';
import { ANNOTATION_GARDENER_OPERATION, Shoot } from '../gardener/api.js';
import { RESOURCES, statusCode } from '../kube/client.js';
import { annotationOps, isConflict, type RolloutRef, type WriteContext } from './write-context.js';

/** Per rollout: a token bucket for shoot reconcile requests (a rate, not a record: restarts only refill it). */
interface Bucket {
  tokens: number;
  at: number;
}

export class ShootRequests {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly w: WriteContext,
    private readonly clock: () => number,
  ) {}

  /**
   * Sends gardener.cloud/operation=reconcile (retry for a Failed shoot) to the owed shoots at most at maxPerMinute (a
   * token bucket per rollout; requests already pending at Gardener count against it). gardener-apiserver turns the
   * annotation into a generation bump (pkg/apiserver/registry/core/shoot/strategy.go), so what is owed is derived
   * from the shoots themselves on every reconcile: a failed or lost request is simply owed again.
   */
  async request(rollout: RolloutRef, shoots: readonly { namespace: string; name: string; operation: ShootOperation }[], pending: number, maxPerMinute: number): Promise<void> {
    const now = this.clock();
    const burst = Math.max(1, Math.ceil(maxPerMinute / 12)); // five seconds' worth
    const b = this.buckets.get(rollout.name) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 60_000) * maxPerMinute);
    b.at = now;
    this.buckets.set(rollout.name, b);
    const n = Math.min(shoots.length, Math.floor(b.tokens), Math.max(0, maxPerMinute - pending));
    for (const s of shoots.slice(0, n)) {
      b.tokens -= 1;
      this.w.count('shootReconcile');
      try {
        if (s.operation === 'retry') await this.requestRetry(s);
        else await this.w.client.patch(RESOURCES.shoots, s.name, { metadata: { annotations: { [ANNOTATION_GARDENER_OPERATION]: s.operation } } }, s.namespace);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }
  }

  /**
   * `retry` only over a shoot read Failed just now (compare-and-swap on its resourceVersion): gardener-apiserver acts
   * on it only while lastOperation is Failed (pkg/apiserver/registry/core/shoot/strategy.go) and would otherwise keep
   * it, to fire on some later failure. A shoot that changed meanwhile is left to the next reconcile to judge.
   */
  private async requestRetry(s: { namespace: string; name: string }): Promise<void> {
    const fresh = await this.w.client.tryGet(RESOURCES.shoots, Shoot, s.name, s.namespace);
    if (fresh?.status?.lastOperation?.state !== 'Failed') return;
    const ops = [{ op: 'test', path: '/metadata/resourceVersion', value: fresh.metadata.resourceVersion }, ...annotationOps(fresh.metadata.annotations ?? {}, { [ANNOTATION_GARDENER_OPERATION]: 'retry' })];
    try {
      await this.w.client.jsonPatch(RESOURCES.shoots, s.name, ops, s.namespace);
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  /** Milliseconds until the rollout may send its next reconcile request. */
  nextInMs(rollout: string, maxPerMinute: number): number {
    const b = this.buckets.get(rollout);
    if (!b || b.tokens >= 1) return 0;
    return Math.ceil(((1 - b.tokens) * 60_000) / Math.max(1, maxPerMinute));
  }


  /** Forgets a rollout that was deleted. */
  forget(rollout: string): void {
    this.buckets.delete(rollout);
  }
}
