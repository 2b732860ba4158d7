// Leader election on a coordination.k8s.io Lease. Expiry is judged from the lease record (renewTime +
// leaseDurationSeconds), not from local state; every write carries the resourceVersion read, so two candidates
// can never both win (a 409 is a lost race). A leader that cannot renew within renewDeadline stops leading, and
// the caller stops writing. release() hands the lease over at once on a graceful shutdown.
// A leader renews optimistically (as client-go does): one update against the lease it wrote last, and only when
// that conflicts a read and a fresh decision. Renewing costs one request per retry period instead of two.
import * as k8s from '@kubernetes/client-node';
import { statusCode } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The lease as our last successful write left it; the renewal's fast path writes against its resourceVersion. */
  private observed: k8s.V1Lease | undefined;
  private readonly api: k8s.CoordinationV1Api;
  private readonly duration: number;
  private readonly renewDeadline: number;
  private readonly retry: number;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: LeaderOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
    this.duration = o.leaseDurationSeconds ?? 15;
    this.renewDeadline = o.renewDeadlineSeconds ?? 10;
    this.retry = o.retryPeriodSeconds ?? 2;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until stopped; calls onStart when it becomes leader and onStop when it loses the lease. */
  run(onStart: () => void, onStop: () => void): void {
    const step = async () => {
      if (this.stopped) return;
      try {
        const won = await this.tryAcquireOrRenew();
        if (won) {
          this.lastRenew = Date.now();
          if (!this.leading) {
            this.leading = true;
            this.log.info('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
            onStart();
          }
        } else if (this.leading) {
          this.leading = false;
          this.log.info('lost the lease to another candidate', { identity: this.o.identity });
          onStop();
        }
      } catch (err) {
        this.log.error('lease update failed', err, { identity: this.o.identity });
        if (this.leading && Date.now() - this.lastRenew > this.renewDeadline * 1000) {
          this.leading = false;
          onStop();
        }
      }
      if (!this.stopped) this.timer = setTimeout(() => void step(), this.retry * 1000);
    };
    void step();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const micro = new k8s.V1MicroTime(now.toISOString());
    const mine = this.observed;
    if (this.leading && mine?.spec?.holderIdentity === this.o.identity) {
      try {
        this.observed = await this.api.replaceNamespacedLease({
          name: this.o.name,
          namespace: this.o.namespace,
          body: { metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: mine.metadata?.resourceVersion }, spec: { ...mine.spec, renewTime: micro } },
        });
        return true;
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        this.observed = undefined; // somebody else wrote the lease: read it and decide afresh
      }
    }
    let lease: k8s.V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      try {
        this.observed = await this.api.createNamespacedLease({
          namespace: this.o.namespace,
          body: {
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: { holderIdentity: this.o.identity, leaseDurationSeconds: this.duration, acquireTime: micro, renewTime: micro, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createErr) {
        if (statusCode(createErr) === 409) return false;
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? new Date(spec.renewTime as unknown as string).getTime() : 0;
    const expired = !holder || renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000 < now.getTime();
    if (holder !== this.o.identity && !expired) return false;
    const taking = holder !== this.o.identity;
    try {
      this.observed = await this.api.replaceNamespacedLease({
        name: this.o.name,
        namespace: this.o.namespace,
        body: {
          metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: lease.metadata?.resourceVersion },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.duration,
            acquireTime: taking ? micro : (spec.acquireTime ?? micro),
            renewTime: micro,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (taking ? 1 : 0),
          },
        },
      });
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false;
      throw err;
    }
  }

  /** Stops campaigning; a leader empties the holder so that another candidate takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    this.observed = undefined;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replaceNamespacedLease({
        name: this.o.name,
        namespace: this.o.namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
      this.log.info('released the lease', { identity: this.o.identity });
    } catch (err) {
      this.log.error('releasing the lease failed', err, { identity: this.o.identity });
    }
  }
}
