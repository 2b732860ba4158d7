// The controller's Prometheus metrics. What the controller's parts count (caches, requests, writes, the lease) and
// what the rollouts' statuses say is read at scrape time (prom-client's collect()), so a deleted rollout's series go
// with it. Only halts, promotions and reconcile durations are recorded as they happen.
// Names, labels and help texts are what dashboards and the tests (test/support/controller.ts,
// test/bench/controller-process.ts) read: keep them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PHASES, type CanaryRollout } from '../api/v1alpha1.js';
import type { Decision } from '../engine/decide.js';
import type { CacheHealth } from '../kube/reflector.js';
import type { LeaderTransitions } from './leader.js';

/** What the metrics read at scrape time. */
export interface MetricSources {
  /** The cached rollouts (with their statuses as last written). */
  rollouts(): readonly CanaryRollout[];
  /** The caches, by the resource name the metrics label them with. */
  caches(): Readonly<Record<string, CacheHealth>>;
  /** Reconciles running longer than the stuck bound. */
  stuckReconciles(): number;
  isLeader(): boolean;
  /** Leadership changes by event (acquired, lost, released). */
  leaderTransitions(): Readonly<LeaderTransitions>;
  /** Writes to the garden by this replica. */
  writes(): number;
  /** Requests sent through API clients. */
  requests(): number;
  /** The same requests by verb and resource. */
  requestsByVerb(): Iterable<{ verb: string; resource: string; count: number }>;
}

type Labels = Record<string, string>;

/**
 * A counter whose value is a count kept elsewhere (only ever growing), read at scrape time: a Counter (its type says
 * `counter`, so rate() works on it), set by resetting it and adding the count.
 */
function countedElsewhere(config: { name: string; help: string; labelNames?: string[]; registers: Registry[] }, read: () => Iterable<[Labels, number]>): Counter {
  return new Counter({
    ...config,
    collect() {
      this.reset();
      for (const [labels, n] of read()) this.inc(labels, n);
    },
  });
}

/** A gauge set afresh at every scrape: series no longer read are gone. */
function readAtScrape(config: { name: string; help: string; labelNames?: string[]; registers: Registry[] }, read: () => Iterable<[Labels, number]>): Gauge {
  return new Gauge({
    ...config,
    collect() {
      this.reset();
      for (const [labels, n] of read()) this.set(labels, n);
    },
  });
}

type Series = [Labels, number][];

/** Per-rollout series from the cached rollouts' statuses (none before a rollout's first status). */
function rolloutSeries(rollouts: readonly CanaryRollout[]): Record<'phase' | 'wave' | 'sample' | 'ratio' | 'stale', Series> {
  const out: Record<'phase' | 'wave' | 'sample' | 'ratio' | 'stale', Series> = { phase: [], wave: [], sample: [], ratio: [], stale: [] };
  for (const r of rollouts) {
    const status = r.status;
    if (!status?.phase) continue;
    const rollout = r.metadata.name;
    for (const p of PHASES) out.phase.push([{ rollout, phase: p }, status.phase === p ? 1 : 0]);
    out.wave.push([{ rollout }, status.currentWave ?? 0]);
    for (const w of status.waves ?? []) {
      const c = w.counts;
      if (!c) continue;
      const n = c.healthy + c.unhealthy;
      out.sample.push([{ rollout, wave: w.name }, n]);
      if (n > 0) out.ratio.push([{ rollout, wave: w.name }, c.healthy / n]);
    }
    out.stale.push([{ rollout }, status.conditions?.some((c) => c.type === 'InputsStale' && c.status === 'True') ? 1 : 0]);
  }
  return out;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  /** Reconcile durations by result (ok, conflict, error). */
  readonly reconciles: Histogram<'result'>;
  private readonly halts: Counter<'rollout' | 'reason'>;
  private readonly promotions: Counter<'rollout' | 'type'>;

  constructor(s: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const perRollout = (metric: keyof ReturnType<typeof rolloutSeries>) => () => rolloutSeries(s.rollouts())[metric];
    const perCache = (value: (c: CacheHealth) => number) => () => Object.entries(s.caches()).map(([resource, c]): [Labels, number] => [{ resource }, value(c)]);

    readAtScrape({ name: 'canary_rollout_phase', help: 'Phase of each rollout (1 for the current phase)', labelNames: ['rollout', 'phase'], registers }, perRollout('phase'));
    readAtScrape({ name: 'canary_rollout_current_wave', help: 'Index of the wave in progress', labelNames: ['rollout'], registers }, perRollout('wave'));
    readAtScrape({ name: 'canary_rollout_wave_healthy_ratio', help: 'Healthy share of counted exposed shoots per wave', labelNames: ['rollout', 'wave'], registers }, perRollout('ratio'));
    readAtScrape({ name: 'canary_rollout_wave_sample_size', help: 'Counted exposed shoots per wave', labelNames: ['rollout', 'wave'], registers }, perRollout('sample'));
    this.halts = new Counter({ name: 'canary_rollout_halts_total', help: 'Halts, by reason', labelNames: ['rollout', 'reason'], registers });
    this.promotions = new Counter({ name: 'canary_rollout_promotions_total', help: 'Seeds promoted or released', labelNames: ['rollout', 'type'], registers });
    this.reconciles = new Histogram({ name: 'canary_rollout_reconcile_duration_seconds', help: 'Reconcile duration', labelNames: ['result'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    readAtScrape({ name: 'canary_rollout_cache_synced', help: '1 when a cache has completed its first list', labelNames: ['resource'], registers }, perCache((c) => (c.hasSynced ? 1 : 0)));
    readAtScrape({ name: 'canary_rollout_cache_objects', help: 'Objects in each cache', labelNames: ['resource'], registers }, perCache((c) => c.size));
    readAtScrape({ name: 'canary_rollout_leader', help: '1 while this replica holds the lease', registers }, () => [[{}, s.isLeader() ? 1 : 0]]);
    countedElsewhere({ name: 'canary_rollout_leader_transitions_total', help: "This replica's leadership changes (event: acquired, lost, released)", labelNames: ['event'], registers }, () =>
      Object.entries(s.leaderTransitions()).map(([event, n]): [Labels, number] => [{ event }, n]),
    );
    countedElsewhere({ name: 'canary_rollout_writes_total', help: 'Writes to the garden by this replica (status, seeds, gardenlets, shoots, events)', registers }, () => [[{}, s.writes()]]);
    countedElsewhere(
      { name: 'canary_rollout_cache_operations_total', help: 'Cache lists, watches, probes and their failures by resource (op: list, list_error, watch, watch_error, watch_idle, watch_gone, probe, probe_error)', labelNames: ['resource', 'op'], registers },
      () =>
        Object.entries(s.caches()).flatMap(([resource, c]) => {
          const st = c.stats;
          const ops = { list: st.lists, list_error: st.listErrors, watch: st.watches, watch_error: st.watchErrors, watch_idle: st.idleWatches, watch_gone: st.gone, probe: st.probes, probe_error: st.probeErrors };
          return Object.entries(ops).map(([op, n]): [Labels, number] => [{ resource, op }, n]);
        }),
    );
    readAtScrape({ name: 'canary_rollout_cache_seconds_since_fresh', help: 'Seconds since each cache was last confirmed to match the server (-1: never)', labelNames: ['resource'], registers }, () => {
      const now = Date.now();
      return perCache((c) => (c.confirmedAt === undefined ? -1 : (now - c.confirmedAt) / 1000))();
    });
    readAtScrape({ name: 'canary_rollout_inputs_stale', help: '1 while a rollout holds progress because a cache it reads is stale (condition InputsStale)', labelNames: ['rollout'], registers }, perRollout('stale'));
    readAtScrape({ name: 'canary_rollout_stuck_reconciles', help: 'Reconciles running longer than --stuck-reconcile-seconds (/healthz fails while above 0)', registers }, () => [[{}, s.stuckReconciles()]]);
    countedElsewhere({ name: 'canary_rollout_api_requests_total', help: 'API requests sent: requests through API clients (kind=request) and watches opened (kind=watch)', labelNames: ['kind'], registers }, () => [
      [{ kind: 'request' }, s.requests()],
      [{ kind: 'watch' }, Object.values(s.caches()).reduce((a, c) => a + c.stats.watches, 0)],
    ]);
    countedElsewhere(
      { name: 'canary_rollout_api_requests_by_verb_total', help: 'Requests through API clients by Kubernetes verb (list, get, create, update, patch, delete) and resource (watches: canary_rollout_api_requests_total{kind="watch"})', labelNames: ['verb', 'resource'], registers },
      () => [...s.requestsByVerb()].map(({ verb, resource, count }): [Labels, number] => [{ verb, resource }, count]),
    );
  }

  /** Counts what a decision did that is not in the status: seeds promoted or released, halts. */
  recordDecision(rollout: string, d: Decision): void {
    const type = d.status.extension ? 'releaseSeed' : 'promoteSeed';
    if (d.promoted.length) this.promotions.inc({ rollout, type }, d.promoted.length);
    for (const e of d.events) if (e.reason === 'Halted') this.halts.inc({ rollout, reason: 'GateFailed' });
  }
}
