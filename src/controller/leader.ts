// Leader election on a coordination.k8s.io Lease, with client-go's semantics
// (k8s.io/client-go/tools/leaderelection/leaderelection.go, tryAcquireOrRenew and renew):
// - a lease is valid for leaseDurationSeconds after this replica *observed its record change*, measured on the local
//   monotonic clock; the holder's renewTime is never compared with the local clock, so a replica whose clock is
//   ahead does not take a live lease. An empty holder is a free lease;
// - every write carries the resourceVersion read, so two candidates never both win (a 409 is a lost race);
// - a leader renews optimistically (one update against the lease it wrote last, a read only when that conflicts);
// - a leader may act only until renewDeadline after it *sent* its last successful renewal. That write reached the
//   server after it was sent, so no other replica sees the lease expire before sentAt + leaseDuration: with
//   renewDeadline < leaseDuration a leader always stops before anybody else can start. The renewal itself is
//   aborted at that deadline, and a timer ends leadership at it even while a request hangs;
// - release() empties the holder (leaseDurationSeconds 1, as client-go's ReleaseOnCancel) so a standby takes over
//   at once, and a released elector never campaigns again.
// holds() is the fence: the controller checks it before every mutating request (PooledKubeConfig.writeGuard).
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import { PooledKubeConfig, statusCode } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

/** Clocks the elector reads: the wall clock only for the timestamps it writes, the monotonic one for every decision. */
export interface LeaderClocks {
  wall: () => Date;
  monotonicMs: () => number;
}

const SYSTEM_CLOCKS: LeaderClocks = { wall: () => new Date(), monotonicMs: () => performance.now() };

/** A mutating request was refused because this replica no longer holds the lease (or never did). */
export class NotLeaderError extends Error {
  constructor(identity: string) {
    super(`${identity} does not hold the lease: writes are fenced`);
    this.name = 'NotLeaderError';
  }
}

/** Counts of this replica's leadership changes (a metric). */
export interface LeaderTransitions {
  acquired: number;
  lost: number;
  released: number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  /** Monotonic ms until which this replica may act as leader (sent time of its last successful renewal + renewDeadline). */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private step: Promise<void> | undefined;
  /** The lease as last read or written, and when (monotonic) its record was last seen to change. */
  private observed: k8s.V1Lease | undefined;
  private observedRecord = '';
  private observedAt = 0;
  private onStop: () => void = () => undefined;
  readonly transitions: LeaderTransitions = { acquired: 0, lost: 0, released: 0 };
  private readonly kc: PooledKubeConfig;
  private readonly api: k8s.CoordinationV1Api;
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: LeaderOptions,
    private readonly log: Logger,
    private readonly clocks: LeaderClocks = SYSTEM_CLOCKS,
  ) {
    // its own connection pool and request timeout: lease requests are bounded by the renew deadline, not by
    // --request-timeout-seconds, and are never fenced by the write guard that holds() feeds
    this.kc = new PooledKubeConfig();
    this.kc.loadFromOptions({ clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    this.api = this.kc.makeApiClient(k8s.CoordinationV1Api);
    this.durationMs = (o.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = (o.renewDeadlineSeconds ?? 10) * 1000;
    this.retryMs = (o.retryPeriodSeconds ?? 2) * 1000;
  }

  /** True while this replica leads and its last renewal is younger than the renew deadline. */
  holds(): boolean {
    return this.leading && this.clocks.monotonicMs() < this.validUntil;
  }

  get isLeader(): boolean {
    return this.holds();
  }

  /** Throws NotLeaderError unless holds(): the fence before every mutating request. */
  assertHolds(): void {
    if (!this.holds()) throw new NotLeaderError(this.o.identity);
  }

  /** Lease requests by verb (PooledKubeConfig.requestsByVerb). */
  get requestsByVerb(): PooledKubeConfig['requestsByVerb'] {
    return this.kc.requestsByVerb;
  }

  /** Lease requests sent (reads and writes). */
  get requests(): number {
    return this.kc.requests;
  }

  /** Campaigns until released; calls onStart when it becomes leader and onStop when it stops leading. */
  run(onStart: () => void, onStop: () => void): void {
    this.onStop = onStop;
    const loop = async () => {
      if (this.stopped) return;
      this.step = this.attempt(onStart);
      await this.step;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.retryMs);
    };
    void loop();
  }

  private async attempt(onStart: () => void): Promise<void> {
    const sentAt = this.clocks.monotonicMs();
    // a leader's renewal may take until its deadline and no longer; a candidate's attempt is bounded the same way
    const budget = this.leading ? this.validUntil - sentAt : this.renewDeadlineMs;
    if (budget <= 0) return this.lose('renew deadline passed');
    this.kc.requestTimeoutMs = budget;
    try {
      const won = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      if (!won) {
        if (this.leading) this.lose('another candidate holds the lease');
        return;
      }
      // a renewal that came back after the deadline is no lease to act on: it was lost in the meantime
      if (sentAt + this.renewDeadlineMs <= this.clocks.monotonicMs()) return this.lose('renew deadline passed');
      this.validUntil = sentAt + this.renewDeadlineMs;
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = setTimeout(() => {
        if (this.leading && this.clocks.monotonicMs() >= this.validUntil) this.lose('renew deadline passed');
      }, Math.max(0, this.validUntil - this.clocks.monotonicMs()) + 1);
      if (!this.leading) {
        this.leading = true;
        this.transitions.acquired++;
        this.log.info('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
        onStart();
      }
    } catch (err) {
      if (this.stopped) return;
      this.log.error('lease update failed', err, { identity: this.o.identity, leading: this.leading });
      if (this.leading && this.clocks.monotonicMs() >= this.validUntil) this.lose('renew deadline passed');
    }
  }

  private lose(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.deadlineTimer);
    this.transitions.lost++;
    this.log.info('stopped leading', { identity: this.o.identity, reason: why });
    this.onStop();
  }

  /** Records the lease read or written; a changed record restarts the local expiry clock. */
  private observe(lease: k8s.V1Lease): void {
    this.observed = lease;
    const s = lease.spec ?? {};
    const record = JSON.stringify([s.holderIdentity ?? '', s.leaseDurationSeconds, String(s.renewTime ?? ''), String(s.acquireTime ?? ''), s.leaseTransitions]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = this.clocks.monotonicMs();
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const micro = new k8s.V1MicroTime(this.clocks.wall().toISOString());
    const mine = this.observed;
    if (this.leading && mine?.spec?.holderIdentity === this.o.identity) {
      try {
        this.observe(await this.replace(mine, { ...mine.spec, renewTime: micro }));
        return true;
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        // somebody else wrote the lease: read it and decide afresh
      }
    }
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      try {
        const spec = { holderIdentity: this.o.identity, leaseDurationSeconds: this.durationMs / 1000, acquireTime: micro, renewTime: micro, leaseTransitions: 0 };
        this.observe(await this.api.createNamespacedLease({ namespace: this.o.namespace, body: { metadata: { name: this.o.name, namespace: this.o.namespace }, spec } }));
        return true;
      } catch (createErr) {
        if (statusCode(createErr) === 409) return false;
        throw createErr;
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const mineNow = holder === this.o.identity;
    const valid = this.clocks.monotonicMs() < this.observedAt + (spec.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    if (holder && !mineNow && valid) return false;
    // a lease that names us but that we do not lead on (a restart with the same identity, or one we lost) is taken
    // like any other: a new acquisition, counted as a transition
    const taking = !(mineNow && this.leading);
    try {
      const written = await this.replace(lease, {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.durationMs / 1000,
        acquireTime: taking ? micro : (spec.acquireTime ?? micro),
        renewTime: micro,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder !== this.o.identity ? 1 : 0),
      });
      this.observe(written);
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false;
      throw err;
    }
  }

  private replace(lease: k8s.V1Lease, spec: k8s.V1LeaseSpec): Promise<k8s.V1Lease> {
    return this.api.replaceNamespacedLease({
      name: this.o.name,
      namespace: this.o.namespace,
      body: { metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: lease.metadata?.resourceVersion }, spec },
    });
  }

  /**
   * Stops campaigning for good; a replica that still holds the lease empties its holder so that another candidate
   * takes over at once. A replica past its renew deadline writes nothing: the lease may be somebody else's by now.
   */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.step; // a renewal in flight would race the release write
    clearTimeout(this.deadlineTimer);
    const held = this.holds();
    const wasLeading = this.leading;
    this.leading = false;
    try {
      if (!wasLeading) return;
      if (!held || !this.observed) {
        this.transitions.lost++;
        return;
      }
      this.transitions.released++;
      this.kc.requestTimeoutMs = Math.max(1, this.validUntil - this.clocks.monotonicMs());
      const micro = new k8s.V1MicroTime(this.clocks.wall().toISOString());
      await this.replace(this.observed, { ...this.observed.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: micro, acquireTime: micro });
      this.log.info('released the lease', { identity: this.o.identity });
    } catch (err) {
      this.log.error('releasing the lease failed', err, { identity: this.o.identity });
    } finally {
      this.kc.close();
    }
  }
}
