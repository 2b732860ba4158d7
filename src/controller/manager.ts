// The running controller: caches, a work queue, a few workers (one rollout at a time each), metrics and health
// endpoints, clean shutdown.
// Any change to a rollout enqueues it; changes in the landscape (seeds, shoots, gardenlets, managed seeds)
// enqueue every rollout with a short delay, so a burst of shoot updates costs one reconcile.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CanaryRollout, PHASES } from '../api/v1alpha1.js';
import type { Decision } from '../engine/decide.js';
import { turnedUnhealthy } from '../engine/health.js';
import { ControllerDeployment, ControllerRegistration, Seed, type Shoot } from '../gardener/api.js';
import { KubeClient, RESOURCES, retryAfterMs, type PooledKubeConfig } from '../kube/client.js';
import { FreshnessProber } from '../kube/freshness-prober.js';
import { Reflector, type CacheHealth } from '../kube/reflector.js';
import type { InputFreshness } from '../engine/freshness.js';
import type { Logger } from '../util/log.js';
import type { Config } from './config.js';
import { hostname } from 'node:os';
import { Executor, FIELD_MANAGER, GARDEN_NAMESPACE } from './executor.js';
import { LeaderElector } from './leader.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconciler.js';
import { rejectedRollout, type RejectedRollout } from './rejected.js';
import { namespacedKey, parseDeployment, parseGardenlet, parseManagedSeed, parseRegistration, parseSeed, trimInstallation, trimShoot } from '../gardener/trim.js';

/** A landscape change reaches the rollouts within this window, so a burst of changes costs one reconcile. */
const LANDSCAPE_DEBOUNCE_MS = 1000;
/**
 * A shoot that turns unhealthy may cross a gate's threshold: its rollouts are reconciled at once instead of at the
 * end of a window an earlier change opened (about 500 ms of a halt's latency, up to 1 s; issue 16). 1 ms, not 0: a
 * delayed add, so a rollout backing off after failures keeps its retry time.
 */
const DEGRADED_SHOOT_MS = 1;

/** Test seams; the production binary passes none. */
export interface ManagerHooks {
  /** Called right after a decision's status write succeeded, before its effects are applied. */
  afterStatusWrite?: (rollout: string, decision: Decision) => void;
}

export class Manager {
  readonly registry = new Registry();
  readonly client: KubeClient;
  readonly queue = new WorkQueue();
  readonly rollouts: Reflector<CanaryRollout>;
  readonly seeds: Reflector<ReturnType<typeof parseSeed> & object>;
  readonly shoots: Reflector<NonNullable<ReturnType<typeof trimShoot>>>;
  readonly gardenlets: Reflector<NonNullable<ReturnType<typeof parseGardenlet>>>;
  readonly managedSeeds: Reflector<NonNullable<ReturnType<typeof parseManagedSeed>>>;
  readonly registrations: Reflector<NonNullable<ReturnType<typeof parseRegistration>>>;
  readonly deployments: Reflector<NonNullable<ReturnType<typeof parseDeployment>>>;
  readonly installations: Reflector<NonNullable<ReturnType<typeof trimInstallation>>>;
  /** Stored rollouts the schema rejects, by name: reconciled only to say why (rejected.ts). */
  readonly rejected = new Map<string, RejectedRollout>();
  readonly executor: Executor;
  readonly reconciler: Reconciler;
  /** One freshness probe per API group and period for all caches (freshness-prober.ts). */
  private readonly prober: FreshnessProber;
  private server: Server | undefined;
  private workers: Promise<void>[] = [];
  /** Rollouts being reconciled now, with when each reconcile started (liveness). */
  private readonly inFlight = new Map<string, number>();
  private resync: NodeJS.Timeout | undefined;
  private staleCheck: NodeJS.Timeout | undefined;
  /** The caches found stale at the last check (their resource names), to notice a change. */
  private staleSet = '';
  private stopping = false;
  private readonly metrics;
  readonly elector: LeaderElector;
  /** Called when leadership is lost: the process must stop writing (main exits). */
  onLostLeadership: () => void = () => undefined;

  constructor(
    readonly kubeConfig: PooledKubeConfig,
    readonly config: Config,
    readonly log: Logger,
    private readonly options: { hooks?: ManagerHooks } = {},
  ) {
    this.client = new KubeClient(kubeConfig, FIELD_MANAGER);
    const landscapeChanged = (delayMs = LANDSCAPE_DEBOUNCE_MS) => {
      for (const r of this.rollouts.list()) this.queue.add(r.metadata.name, delayMs);
    };
    const shootChanged = (_type: string, shoot: Shoot, old: Shoot | undefined) => {
      landscapeChanged(turnedUnhealthy(shoot, old) ? DEGRADED_SHOOT_MS : LANDSCAPE_DEBOUNCE_MS);
    };
    // every cache: the shared freshness prober probes for it (no probe of its own), LIST pages of --list-page-size
    const cache = { kubeConfig, log, pageSize: config.listPageSize };
    this.rollouts = new Reflector({
      ...cache,
      resource: RESOURCES.canaryRollouts,
      transform: (raw) => {
        const r = CanaryRollout.safeParse(raw);
        if (r.success) {
          this.rejected.delete(r.data.metadata.name);
          return r.data;
        }
        log.error('CanaryRollout does not match the schema, not reconciled (its status says why)', r.error, { name: (raw as { metadata?: { name?: string } }).metadata?.name });
        const rejected = rejectedRollout(raw, r.error);
        if (rejected) {
          this.rejected.set(rejected.name, rejected);
          this.queue.add(rejected.name);
        }
        return undefined;
      },
      key: (o) => o.metadata.name,
      ...(config.rolloutSelector ? { labelSelector: config.rolloutSelector } : {}),
      onEvent: (_t, o) => this.queue.add(o.metadata.name),
    });
    this.seeds = new Reflector({ ...cache, resource: RESOURCES.seeds, transform: parseSeed, key: (o) => o.metadata.name, onEvent: () => landscapeChanged() });
    this.shoots = new Reflector({ ...cache, resource: RESOURCES.shoots, transform: trimShoot, key: namespacedKey, onEvent: shootChanged });
    this.gardenlets = new Reflector({ ...cache, resource: RESOURCES.gardenlets, namespace: GARDEN_NAMESPACE, transform: parseGardenlet, key: (o) => o.metadata.name, onEvent: () => landscapeChanged() });
    this.managedSeeds = new Reflector({ ...cache, resource: RESOURCES.managedSeeds, namespace: GARDEN_NAMESPACE, transform: parseManagedSeed, key: (o) => o.metadata.name, onEvent: () => landscapeChanged() });

    const byName = (o: { metadata: { name: string } }) => o.metadata.name;
    this.registrations = new Reflector({ ...cache, resource: RESOURCES.controllerRegistrations, transform: parseRegistration, key: byName, onEvent: () => landscapeChanged() });
    this.deployments = new Reflector({ ...cache, resource: RESOURCES.controllerDeployments, transform: parseDeployment, key: byName, onEvent: () => landscapeChanged() });
    this.installations = new Reflector({ ...cache, resource: RESOURCES.controllerInstallations, transform: trimInstallation, key: byName, onEvent: () => landscapeChanged() });

    this.prober = new FreshnessProber(kubeConfig, log).add(...Object.values(this.caches()));

    this.executor = new Executor(this.client, {
        seed: (n) => this.seeds.get(n),
        seeds: () => this.seeds.list(),
        gardenlet: (n) => this.gardenlets.get(n),
        managedSeed: (n) => this.managedSeeds.get(n),
        registration: (n) => this.registrations.get(n),
        registrations: () => this.registrations.list(),
        deployment: (n) => this.deployments.get(n),
        freshSeed: (n) => this.client.tryGet(RESOURCES.seeds, Seed, n),
        freshDeployment: (n) => this.client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, n),
        freshRegistration: (n) => this.client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n),
      }, log);
    this.reconciler = new Reconciler(
      this.client,
      { rollout: (n) => (this.rejected.has(n) ? undefined : this.rollouts.get(n)), rollouts: () => this.rollouts.list().filter((r) => !this.rejected.has(r.metadata.name)), rejected: (n) => this.rejected.get(n), seeds: () => this.seeds.list(), managedSeeds: () => this.managedSeeds.list(), shoots: () => this.shoots.list(), gardenlets: () => this.gardenlets.list(),
        registrations: () => this.registrations.list(),
        deployments: () => this.deployments.list(),
        installations: () => this.installations.list(),
        freshness: (extension) => this.freshness(extension),
        revision: (extension) => this.landscapeCaches(extension).map((c) => c.revision).join('.'),
      },
      this.executor,
      log,
      () => new Date(),
      (name, d) => {
        this.record(name, d);
        this.options.hooks?.afterStatusWrite?.(name, d);
      },
    );

    this.elector = new LeaderElector(
      kubeConfig,
      {
        namespace: config.leaseNamespace,
        name: config.leaseName,
        identity: config.identity ?? `${hostname()}-${process.pid}`,
        leaseDurationSeconds: config.leaseDurationSeconds,
        renewDeadlineSeconds: config.renewDeadlineSeconds,
        retryPeriodSeconds: config.retryPeriodSeconds,
      },
      log,
    );
    // the fence: no mutating request leaves this process unless it holds the lease (its renewal younger than the
    // renew deadline), whatever a reconcile in flight is about to do
    kubeConfig.writeGuard = () => this.elector.assertHolds();
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.metrics = {
      phase: new Gauge({ name: 'canary_rollout_phase', help: 'Phase of each rollout (1 for the current phase)', labelNames: ['rollout', 'phase'], registers }),
      wave: new Gauge({ name: 'canary_rollout_current_wave', help: 'Index of the wave in progress', labelNames: ['rollout'], registers }),
      ratio: new Gauge({ name: 'canary_rollout_wave_healthy_ratio', help: 'Healthy share of counted exposed shoots per wave', labelNames: ['rollout', 'wave'], registers }),
      sample: new Gauge({ name: 'canary_rollout_wave_sample_size', help: 'Counted exposed shoots per wave', labelNames: ['rollout', 'wave'], registers }),
      halts: new Counter({ name: 'canary_rollout_halts_total', help: 'Halts, by reason', labelNames: ['rollout', 'reason'], registers }),
      promotions: new Counter({ name: 'canary_rollout_promotions_total', help: 'Seeds promoted or released', labelNames: ['rollout', 'type'], registers }),
      reconciles: new Histogram({ name: 'canary_rollout_reconcile_duration_seconds', help: 'Reconcile duration', labelNames: ['result'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
      synced: new Gauge({ name: 'canary_rollout_cache_synced', help: '1 when a cache has completed its first list', labelNames: ['resource'], registers }),
      cached: new Gauge({ name: 'canary_rollout_cache_objects', help: 'Objects in each cache', labelNames: ['resource'], registers }),
      leader: new Gauge({ name: 'canary_rollout_leader', help: '1 while this replica holds the lease', registers }),
      leaderTransitions: new Gauge({ name: 'canary_rollout_leader_transitions_total', help: "This replica's leadership changes (event: acquired, lost, released)", labelNames: ['event'], registers }),
      writes: new Gauge({ name: 'canary_rollout_writes_total', help: 'Writes to the garden by this replica (status, seeds, gardenlets, shoots, events)', registers }),
      cacheOps: new Gauge({ name: 'canary_rollout_cache_operations_total', help: 'Cache lists, watches, probes and their failures by resource (op: list, list_error, watch, watch_error, watch_idle, watch_gone, probe, probe_error)', labelNames: ['resource', 'op'], registers }),
      sinceFresh: new Gauge({ name: 'canary_rollout_cache_seconds_since_fresh', help: 'Seconds since each cache was last confirmed to match the server (-1: never)', labelNames: ['resource'], registers }),
      stale: new Gauge({ name: 'canary_rollout_inputs_stale', help: '1 while a rollout holds progress because a cache it reads is stale (condition InputsStale)', labelNames: ['rollout'], registers }),
      stuck: new Gauge({ name: 'canary_rollout_stuck_reconciles', help: 'Reconciles running longer than --stuck-reconcile-seconds (/healthz fails while above 0)', registers }),
      requests: new Gauge({ name: 'canary_rollout_api_requests_total', help: 'API requests sent: requests through API clients (kind=request) and watches opened (kind=watch)', labelNames: ['kind'], registers }),
      requestsByVerb: new Gauge({ name: 'canary_rollout_api_requests_by_verb_total', help: 'Requests through API clients by Kubernetes verb (list, get, create, update, patch, delete) and resource (watches: canary_rollout_api_requests_total{kind="watch"})', labelNames: ['verb', 'resource'], registers }),
    };
  }

  private record(name: string, d: Decision): void {
    for (const p of PHASES) this.metrics.phase.set({ rollout: name, phase: p }, d.status.phase === p ? 1 : 0);
    this.metrics.wave.set({ rollout: name }, d.status.currentWave ?? 0);
    for (const w of d.status.waves ?? []) {
      const c = w.counts;
      if (!c) continue;
      const n = c.healthy + c.unhealthy;
      this.metrics.sample.set({ rollout: name, wave: w.name }, n);
      if (n > 0) this.metrics.ratio.set({ rollout: name, wave: w.name }, c.healthy / n);
    }
    const type = d.status.extension ? 'releaseSeed' : 'promoteSeed';
    if (d.promoted.length) this.metrics.promotions.inc({ rollout: name, type }, d.promoted.length);
    this.metrics.stale.set({ rollout: name }, d.status.conditions?.some((c) => c.type === 'InputsStale' && c.status === 'True') ? 1 : 0);
    for (const e of d.events) if (e.reason === 'Halted') this.metrics.halts.inc({ rollout: name, reason: 'GateFailed' });
  }

  /** The caches a rollout's observation is built from: the landscape, and for extension targets the extension objects. */
  private landscapeCaches(extension: boolean): (CacheHealth & { readonly revision: number })[] {
    return [this.seeds, this.managedSeeds, this.shoots, this.gardenlets, ...(extension ? [this.registrations, this.deployments, this.installations] : [])];
  }

  /** How fresh the caches a rollout reads are (the landscape; for extension targets also the extension objects). */
  freshness(extension: boolean, now = Date.now()): InputFreshness {
    const read: CacheHealth[] = [this.rollouts, ...this.landscapeCaches(extension)];
    const bound = this.config.cacheStaleSeconds * 1000;
    let freshAsOfMs: number | undefined = now;
    const stale: InputFreshness['stale'] = [];
    for (const c of read) {
      const at = c.confirmedAt;
      freshAsOfMs = at === undefined || freshAsOfMs === undefined ? undefined : Math.min(freshAsOfMs, at);
      if (at === undefined || now - at > bound) stale.push({ resource: c.resource, confirmedAt: at === undefined ? undefined : new Date(at).toISOString() });
    }
    return { freshAsOfMs, stale };
  }

  private caches() {
    return {
      canaryrollouts: this.rollouts,
      seeds: this.seeds,
      shoots: this.shoots,
      gardenlets: this.gardenlets,
      managedseeds: this.managedSeeds,
      controllerregistrations: this.registrations,
      controllerdeployments: this.deployments,
      controllerinstallations: this.installations,
    } as const;
  }

  get ready(): boolean {
    return Object.values(this.caches()).every((c) => c.hasSynced);
  }

  async start(): Promise<void> {
    for (const c of Object.values(this.caches())) c.start();
    this.prober.start();
    this.server = createServer((req, res) => void this.serve(req.url ?? '/', res));
    await new Promise<void>((r) => this.server!.listen(this.config.metricsPort, r));
    this.log.info('serving metrics and health', { port: this.port });
    await Promise.all(Object.values(this.caches()).map((c) => c.waitForSync(120_000)));
    const before = process.memoryUsage();
    // The initial LIST leaves tens of MiB of parsed pages dead in the old generation, which V8 does not collect
    // while the process is idle; one full collection now gives it back (node runs with --expose-gc, as the image does).
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    this.log.info('caches synced', {
      ...Object.fromEntries(Object.entries(this.caches()).map(([k, c]) => [k, c.size])),
      secondsSinceProcessStart: Math.round(process.uptime() * 10) / 10,
      rssMiB: Math.round(mem.rss / 2 ** 20),
      heapUsedMiB: Math.round(mem.heapUsed / 2 ** 20),
      heapFreedMiB: Math.round((before.heapUsed - mem.heapUsed) / 2 ** 20),
    });
    // standby replicas keep warm caches; only the leader works (and so writes)
    this.elector.run(
      () => {
        for (const r of this.rollouts.list()) this.queue.add(r.metadata.name);
        this.workers = Array.from({ length: this.config.workers }, () => this.work());
        // client-go's resync: every rollout is reconciled again from the caches now and then, whatever the events
        this.resync = setInterval(() => {
          for (const r of this.rollouts.list()) this.queue.add(r.metadata.name);
        }, this.config.resyncSeconds * 1000);
        // a cache turning stale or fresh again changes what every rollout may do: reconcile them now, so that
        // InputsStale is said (and lifted) when it happens, not at the next requeue
        this.staleCheck = setInterval(() => {
          const now = this.freshness(true).stale.map((s) => s.resource).join(',');
          if (now === this.staleSet) return;
          this.staleSet = now;
          for (const r of this.rollouts.list()) this.queue.add(r.metadata.name);
        }, 1000);
      },
      () => {
        clearInterval(this.resync);
        clearInterval(this.staleCheck);
        this.queue.close();
        this.onLostLeadership();
      },
    );
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  private async serve(url: string, res: ServerResponse): Promise<void> {
    if (url === '/healthz') {
      // a wedged reconcile (a bug, or a call that outlives every timeout) fails liveness, so the kubelet restarts us
      const stuck = this.stuckReconciles();
      if (!stuck.length) return void res.end('ok');
      res.statusCode = 500;
      return void res.end(`reconcile stuck: ${stuck.map((s) => `${s.rollout} for ${s.seconds}s`).join(', ')}`);
    }
    if (url === '/readyz') {
      res.statusCode = this.ready && !this.stopping ? 200 : 503;
      return void res.end(this.ready ? 'ok' : 'caches not synced');
    }
    if (url === '/metrics') {
      const now = Date.now();
      for (const [name, c] of Object.entries(this.caches()) as [string, CacheHealth][]) {
        this.metrics.synced.set({ resource: name }, c.hasSynced ? 1 : 0);
        this.metrics.cached.set({ resource: name }, c.size);
        this.metrics.sinceFresh.set({ resource: name }, c.confirmedAt === undefined ? -1 : (now - c.confirmedAt) / 1000);
        const st = c.stats;
        const ops = { list: st.lists, list_error: st.listErrors, watch: st.watches, watch_error: st.watchErrors, watch_idle: st.idleWatches, watch_gone: st.gone, probe: st.probes, probe_error: st.probeErrors };
        for (const [op, v] of Object.entries(ops)) this.metrics.cacheOps.set({ resource: name, op }, v);
      }
      this.metrics.stuck.set(this.stuckReconciles(now).length);
      this.metrics.leader.set(this.elector.isLeader ? 1 : 0);
      for (const [event, n] of Object.entries(this.elector.transitions)) this.metrics.leaderTransitions.set({ event }, n);
      this.metrics.writes.set(this.reconciler.statusWrites + Object.values(this.executor.writes).reduce((a, b) => a + b, 0));
      this.metrics.requests.set({ kind: 'request' }, this.kubeConfig.requests);
      // the lease's own requests (leader election has a connection pool of its own) are counted beside the rest
      for (const m of [this.kubeConfig.requestsByVerb, this.elector.requestsByVerb]) for (const { verb, resource, count } of m.values()) this.metrics.requestsByVerb.set({ verb, resource }, count);
      this.metrics.requests.set({ kind: 'watch' }, Object.values(this.caches()).reduce((a, c) => a + c.stats.watches, 0));
      res.setHeader('Content-Type', this.registry.contentType);
      return void res.end(await this.registry.metrics());
    }
    res.statusCode = 404;
    res.end();
  }

  /** Reconciles that have run longer than the stuck bound, oldest first (what /healthz reports). */
  stuckReconciles(now = Date.now()): { rollout: string; seconds: number }[] {
    const bound = this.config.stuckReconcileSeconds * 1000;
    return [...this.inFlight]
      .filter(([, since]) => now - since > bound)
      .sort((a, b) => a[1] - b[1])
      .map(([rollout, since]) => ({ rollout, seconds: Math.round((now - since) / 1000) }));
  }

  /** One of `config.workers` workers: the queue hands a rollout to one worker at a time. */
  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.next();
      if (key === undefined) return;
      const end = this.metrics.reconciles.startTimer();
      this.inFlight.set(key, Date.now());
      try {
        this.log.debug('reconciling', { rollout: key });
        const r = await this.reconciler.reconcile(key);
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

  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.close();
    clearInterval(this.resync);
    clearInterval(this.staleCheck);
    await Promise.all(this.workers);
    await this.elector.release();
    this.prober.stop();
    await Promise.all(Object.values(this.caches()).map((c) => c.stop()));
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.kubeConfig.close();
  }
}
