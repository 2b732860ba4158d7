// The running controller, wired: caches (caches.ts), a work queue and its workers (workers.ts), the reconciler and
// executor, leader election, metrics (metrics.ts) and the HTTP endpoints (endpoints.ts); clean shutdown.
import { hostname } from 'node:os';
import type { Decision } from '../engine/decide.js';
import type { InputFreshness } from '../engine/freshness.js';
import { ControllerDeployment, ControllerRegistration, Seed } from '../gardener/api.js';
import { KubeClient, RESOURCES, type PooledKubeConfig } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import { ControllerCaches } from './caches.js';
import type { Config } from './config.js';
import { Endpoints } from './endpoints.js';
import { Executor, FIELD_MANAGER } from './executor.js';
import { LeaderElector } from './leader.js';
import { ControllerMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { Reconciler } from './reconciler.js';
import { Workers } from './workers.js';

/** Test seams; the production binary passes none. */
export interface ManagerHooks {
  /** Called right after a decision's status write succeeded, before its effects are applied. */
  afterStatusWrite?: (rollout: string, decision: Decision) => void;
}

export class Manager {
  readonly client: KubeClient;
  readonly queue = new WorkQueue();
  readonly caches: ControllerCaches;
  readonly executor: Executor;
  readonly reconciler: Reconciler;
  readonly elector: LeaderElector;
  readonly metrics: ControllerMetrics;
  private readonly workers: Workers;
  private readonly endpoints: Endpoints;
  private resync: NodeJS.Timeout | undefined;
  private staleCheck: NodeJS.Timeout | undefined;
  /** The caches found stale at the last check (their resource names), to notice a change. */
  private staleSet = '';
  private stopping = false;
  /** Called when leadership is lost: the process must stop writing (main exits). */
  onLostLeadership: () => void = () => undefined;

  constructor(
    readonly kubeConfig: PooledKubeConfig,
    readonly config: Config,
    readonly log: Logger,
    options: { hooks?: ManagerHooks } = {},
  ) {
    this.client = new KubeClient(kubeConfig, FIELD_MANAGER);
    const caches = (this.caches = new ControllerCaches(kubeConfig, config, log, this.queue));
    this.executor = new Executor(
      this.client,
      {
        seed: (n) => caches.seeds.get(n),
        seeds: () => caches.seeds.list(),
        gardenlet: (n) => caches.gardenlets.get(n),
        managedSeed: (n) => caches.managedSeeds.get(n),
        registration: (n) => caches.registrations.get(n),
        registrations: () => caches.registrations.list(),
        deployment: (n) => caches.deployments.get(n),
        freshSeed: (n) => this.client.tryGet(RESOURCES.seeds, Seed, n),
        freshDeployment: (n) => this.client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, n),
        freshRegistration: (n) => this.client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, n),
      },
      log,
    );
    const rejected = caches.rejected;
    this.reconciler = new Reconciler(
      this.client,
      {
        rollout: (n) => (rejected.has(n) ? undefined : caches.rollouts.get(n)),
        rollouts: () => caches.rollouts.list().filter((r) => !rejected.has(r.metadata.name)),
        rejected: (n) => rejected.get(n),
        seeds: () => caches.seeds.list(),
        managedSeeds: () => caches.managedSeeds.list(),
        shoots: () => caches.shoots.list(),
        gardenlets: () => caches.gardenlets.list(),
        registrations: () => caches.registrations.list(),
        deployments: () => caches.deployments.list(),
        installations: () => caches.installations.list(),
        freshness: (extension) => caches.freshness(extension),
        revision: (extension) => caches.landscape(extension).map((c) => c.revision).join('.'),
      },
      this.executor,
      log,
      () => new Date(),
      (name, d) => {
        this.metrics.recordDecision(name, d);
        options.hooks?.afterStatusWrite?.(name, d);
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

    this.metrics = new ControllerMetrics({
      rollouts: () => caches.rollouts.list(),
      caches: () => caches.byResource(),
      stuckReconciles: () => this.stuckReconciles().length,
      isLeader: () => this.elector.isLeader,
      leaderTransitions: () => this.elector.transitions,
      writes: () => this.reconciler.statusWrites + Object.values(this.executor.writes).reduce((a, b) => a + b, 0),
      requests: () => kubeConfig.requests,
      // the lease's own requests (leader election has a connection pool of its own) are counted beside the rest
      requestsByVerb: () => [...kubeConfig.requestsByVerb.values(), ...this.elector.requestsByVerb.values()],
    });
    this.workers = new Workers(this.queue, (key) => this.reconciler.reconcile(key), this.metrics.reconciles, log);
    this.endpoints = new Endpoints({ registry: this.metrics.registry, stuck: () => this.stuckReconciles(), synced: () => this.ready, stopping: () => this.stopping });
  }

  /** The cached rollouts (test/support/crash-controller.ts reads them). */
  get rollouts(): ControllerCaches['rollouts'] {
    return this.caches.rollouts;
  }

  /** How fresh the caches a rollout reads are (the landscape; for extension targets also the extension objects). */
  freshness(extension: boolean, now = Date.now()): InputFreshness {
    return this.caches.freshness(extension, now);
  }

  get ready(): boolean {
    return this.caches.synced;
  }

  /** The port of the metrics and health endpoints (0 before start). */
  get port(): number {
    return this.endpoints.port;
  }

  /** Reconciles that have run longer than the stuck bound, oldest first (what /healthz reports). */
  stuckReconciles(now = Date.now()): { rollout: string; seconds: number }[] {
    return this.workers.stuck(this.config.stuckReconcileSeconds * 1000, now);
  }

  private enqueueAll(): void {
    for (const r of this.caches.rollouts.list()) this.queue.add(r.metadata.name);
  }

  async start(): Promise<void> {
    this.caches.start();
    await this.endpoints.listen(this.config.metricsPort);
    this.log.info('serving metrics and health', { port: this.port });
    await this.caches.waitForSync(120_000);
    const before = process.memoryUsage();
    // The initial LIST leaves tens of MiB of parsed pages dead in the old generation, which V8 does not collect
    // while the process is idle; one full collection now gives it back (node runs with --expose-gc, as the image does).
    globalThis.gc?.();
    const mem = process.memoryUsage();
    this.log.info('caches synced', {
      ...Object.fromEntries(Object.entries(this.caches.byResource()).map(([k, c]) => [k, c.size])),
      secondsSinceProcessStart: Math.round(process.uptime() * 10) / 10,
      rssMiB: Math.round(mem.rss / 2 ** 20),
      heapUsedMiB: Math.round(mem.heapUsed / 2 ** 20),
      heapFreedMiB: Math.round((before.heapUsed - mem.heapUsed) / 2 ** 20),
    });
    // standby replicas keep warm caches; only the leader works (and so writes)
    this.elector.run(
      () => {
        this.enqueueAll();
        this.workers.start(this.config.workers);
        // client-go's resync: every rollout is reconciled again from the caches now and then, whatever the events
        this.resync = setInterval(() => this.enqueueAll(), this.config.resyncSeconds * 1000);
        // a cache turning stale or fresh again changes what every rollout may do: reconcile them now, so that
        // InputsStale is said (and lifted) when it happens, not at the next requeue
        this.staleCheck = setInterval(() => {
          const now = this.freshness(true).stale.map((s) => s.resource).join(',');
          if (now === this.staleSet) return;
          this.staleSet = now;
          this.enqueueAll();
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

  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.close();
    clearInterval(this.resync);
    clearInterval(this.staleCheck);
    await this.workers.stopped();
    await this.elector.release();
    await this.caches.stop();
    await this.endpoints.close();
    this.kubeConfig.close();
  }
}
