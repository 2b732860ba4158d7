// Issue 15, "429/5xx on status writes and on effect patches for 2 minutes: nothing lost, bounded retries, backoff
// visible". The scenario (shared with test/integration/fault-writes.test.ts, which asserts on what it returns): the
// controller runs as its own process behind a fault proxy (every request of it goes through the proxy; the
// simulator playing gardenlet writes to the garden directly). A rollout of 3 waves over 6 in-scope seeds (2 more
// seeds of the landscape are out of its scope) runs until its canary wave bakes; then, for the window, the proxy
// answers the rollout's status writes with 503 and the controller's patches of the landscape's seeds, gardenlets and
// managed seeds with 429 (Retry-After 2 s). At the window's start the canary seed loses its wave label (what a
// gardenlet restart does: it resets Seed labels to its seedConfig), so that convergence owes a seed patch while the
// bake lasts (a quarter of the window); after the bake the next decision owes a status write. So both paths fail.
// Meanwhile a shoot of the landscape changes every 500 ms, as shoots do on a real landscape: each change enqueues
// the rollout, which must not bring its retries forward. After the window the rules go and the rollout must finish
// as it would have.
//
// `npm run bench -- faults` runs the 2-minute window (BENCH_FAULT_WRITES_SECONDS overrides it) against a garden it
// starts (or GARDEN_KUBECONFIG) and prints the figures as JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CanaryRollout, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { ensureCanaryRolloutCRD } from '../../src/kube/install-crd.js';
import { ANNOTATION_ROLLOUT, LABEL_WAVE } from '../../src/controller/seed-marks.js';
import { Gardenlet, Seed, Shoot } from '../../src/gardener/api.js';
import { KubeClient, loadKubeConfig, RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { startFaultProxy, type RequestLogEntry } from '../support/fault-proxy.js';
import { benchGarden } from './bench-garden.js';

export const OLD_VERSION = 'v1.149.0';
export const NEW_VERSION = 'v1.150.0';
/** Seeds carrying this label are out of the rollout's scope. */
export const LABEL_OUT_OF_SCOPE = 'fault-writes.canary.gardener.cloud/out-of-scope';
export const RETRY_AFTER_SECONDS = 2;
/** The work queue's per-rollout backoff (src/controller/queue.ts): 500 ms doubling, at most 5 minutes, jitter 0.5. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 5 * 60_000;
/** The controller's resync period here: the production default (10 minutes), so no resync falls into a window. */
const RESYNC_SECONDS = 600;

export interface FaultWritesOptions {
  client: KubeClient;
  /** the garden the proxy forwards to */
  kubeconfig: string;
  /** landscape prefix (<= 6 characters) */
  prefix: string;
  windowSeconds: number;
  /**
   * During the window, touch one of the landscape's shoots every this many ms (default 500; 0: none), as shoot
   * status updates do on a real landscape: each is a landscape event that enqueues the rollout.
   */
  churnMs?: number;
  progress?: (msg: string) => void;
}

/** One "reconcile failed, retrying" line of the controller for the rollout. */
export interface RetryLine {
  at: number;
  attempt: number;
  retryInMs: number;
  error: string;
}

export type FaultPath = 'status' | 'seeds' | 'gardenlets' | 'managedseeds';

export interface FaultWritesResult {
  rollout: string;
  windowMs: number;
  /** when the rules were added and removed (ms timestamps) */
  faultsFrom: number;
  faultsUntil: number;
  canary: string;
  inScope: string[];
  outOfScope: string[];
  /** the requests the rules answered, in arrival order */
  injected: (RequestLogEntry & { kind: FaultPath })[];
  /** rule hit counters, as the proxy kept them */
  ruleHits: { status: number; effects: number };
  /** every request of the controller during the window (watches, lists, probes, lease renewals included) */
  requestsInWindow: number;
  /** shoot updates (landscape events) during the window */
  shootUpdates: number;
  retries: RetryLine[];
  /** first status write the server took after the window */
  firstStatusWriteAfter: number | undefined;
  /** first write to the canary seed the server took after the window (its wave label back) */
  canaryRepairedAt: number | undefined;
  succeededAt: number;
  final: CanaryRolloutStatus;
  /** seed -> [status.gardener.version, Gardenlet chart ref] at the end */
  versions: Record<string, [string | undefined, string | undefined]>;
  /** mutating requests of the controller (whole run) on out-of-scope seeds and gardenlets */
  outOfScopeWrites: string[];
  /** out-of-scope seeds carrying a mark of the rollout at the end */
  outOfScopeMarked: string[];
}

/** The rollout's path a request is on, if it is one the rules fail. */
export function faultPath(path: string, rollout: string, prefix: string): FaultPath | undefined {
  if (new RegExp(`/canaryrollouts/${rollout}/status(\\?|$)`).test(path)) return 'status';
  const m = new RegExp(`/(seeds|gardenlets|managedseeds)/${prefix}-[^/?]+(\\?|$)`).exec(path);
  return m ? (m[1] as FaultPath) : undefined;
}

function parseRetries(logs: readonly string[], rollout: string): RetryLine[] {
  const out: RetryLine[] = [];
  for (const line of logs) {
    if (!line.includes('"msg":"reconcile failed, retrying"')) continue;
    const l = JSON.parse(line) as { ts: string; rollout?: string; attempt: number; retryInMs: number; error?: { message: string } };
    if (l.rollout === rollout) out.push({ at: Date.parse(l.ts), attempt: l.attempt, retryInMs: l.retryInMs, error: l.error?.message ?? '' });
  }
  return out;
}

export async function faultWritesScenario(o: FaultWritesOptions): Promise<FaultWritesResult> {
  const { client, prefix } = o;
  const progress = o.progress ?? (() => undefined);
  const windowMs = o.windowSeconds * 1000;
  const name = `${prefix}-w`;
  const selector = `${LABEL_LANDSCAPE}=${prefix}`;
  const dir = mkdtempSync(join(tmpdir(), 'fault-writes-'));
  let controller: ControllerProcess | undefined;
  let sim: LiveSimulator | undefined;
  const proxy = await startFaultProxy({ upstreamKubeconfig: o.kubeconfig, kubeconfigOut: join(dir, 'proxy.kubeconfig'), name: 'fault-writes' });
  try {
    await deleteLandscape(client, prefix);
    sim = await liveLandscape(client, smallLandscape(prefix, { seedsPerRegion: 4, projects: 1, shootsPerSeed: 3, gardenerVersion: OLD_VERSION }));
    const seedNames = (await client.list(RESOURCES.seeds, Seed, { labelSelector: selector })).map((s) => s.metadata.name).sort();
    const outOfScope = [`${prefix}-aws-eu-1-3`, `${prefix}-gcp-us-1-3`];
    const inScope = seedNames.filter((s) => !outOfScope.includes(s));
    for (const s of outOfScope) await client.patch(RESOURCES.seeds, s, { metadata: { labels: { [LABEL_OUT_OF_SCOPE]: 'true' } } });
    progress(`landscape ${prefix} up: ${inScope.length} seeds in scope, ${outOfScope.length} out`);

    controller = await startController(selector, ['--resync-seconds', String(RESYNC_SECONDS)], true, { kubeconfig: proxy.kubeconfig });
    const ctl = controller;
    const canaryBakeSeconds = Math.max(3, Math.round(o.windowSeconds / 4));
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, NEW_VERSION, {
        seedSelector: { matchLabels: { [LABEL_LANDSCAPE]: prefix }, matchExpressions: [{ key: LABEL_OUT_OF_SCOPE, operator: 'DoesNotExist' }] },
        waves: [
          { name: 'canary', count: 1, bake: `${canaryBakeSeconds}s` },
          { name: 'early', count: 2, maxConcurrentSeeds: 1 },
          { name: 'rest', percent: 100 },
        ],
        healthGate: { minSampleSize: 3 },
        bake: '2s',
        progressDeadline: '10m',
      }),
    );
    const get = () => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);
    const baking = await waitFor(
      'the canary wave baking',
      async () => {
        const r = await get();
        return r.status?.phase === 'Progressing' && r.status.waves?.[0]?.phase === 'Baking' && r.status.waves[0].seeds?.[0]?.phase === 'Promoted' ? r : undefined;
      },
      120_000,
      ctl,
    );
    const canary = baking.status!.waves![0]!.seeds![0]!.name;

    // the window
    const methods = ['PATCH', 'PUT', 'POST'];
    const statusRule = proxy.failRequests({ methods, path: new RegExp(`/canaryrollouts/${name}/status(\\?|$)`), status: 503 });
    const effectsRule = proxy.failRequests({ methods, path: new RegExp(`/(seeds|gardenlets|managedseeds)/${prefix}-[^/?]+(\\?|$)`), status: 429, retryAfterSeconds: RETRY_AFTER_SECONDS });
    const faultsFrom = Date.now();
    progress(`faults on for ${o.windowSeconds}s (canary ${canary} baking ${canaryBakeSeconds}s)`);
    // a gardenlet restart on the canary resets its Seed labels: the controller owes the seed its wave label again
    await client.patch(RESOURCES.seeds, canary, { metadata: { labels: { [LABEL_WAVE]: null } } });
    const churnMs = o.churnMs ?? 500;
    const shoots = churnMs ? await client.list(RESOURCES.shoots, Shoot, { labelSelector: selector }) : [];
    let touched = 0;
    for (; churnMs && Date.now() + churnMs < faultsFrom + windowMs; touched++) {
      const sh = shoots[touched % shoots.length]!;
      await client.patch(RESOURCES.shoots, sh.metadata.name, { metadata: { annotations: { 'fault-writes.canary.gardener.cloud/touched': String(touched) } } }, sh.metadata.namespace);
      await new Promise((r) => setTimeout(r, churnMs));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, faultsFrom + windowMs - Date.now())));
    statusRule.remove();
    effectsRule.remove();
    const faultsUntil = Date.now();
    progress(`faults off: ${statusRule.hits} status writes and ${effectsRule.hits} effect patches answered with errors; ${touched} shoot updates meanwhile`);

    const done = await waitFor(
      'the rollout Succeeded after the window',
      async () => {
        const r = await get();
        return r.status?.phase === 'Succeeded' ? r : undefined;
      },
      BACKOFF_MAX_MS + 120_000,
      ctl,
    );
    const succeededAt = Date.now();
    progress('Succeeded');
    // its marks go once it succeeded (they follow the status write): wait for that, then look at the landscape
    await waitFor(
      'the marks removed',
      async () => ((await client.list(RESOURCES.seeds, Seed, { labelSelector: selector })).some((s) => s.metadata.annotations?.[ANNOTATION_ROLLOUT] === name) ? undefined : true),
      30_000,
      ctl,
    );
    const seeds = await client.list(RESOURCES.seeds, Seed, { labelSelector: selector });
    const gardenlets = await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: selector });
    const versions: FaultWritesResult['versions'] = {};
    for (const s of seeds) versions[s.metadata.name] = [s.status?.gardener?.version, gardenlets.find((g) => g.metadata.name === s.metadata.name)?.spec.deployment?.helm?.ociRepository.ref];

    const log = proxy.requests();
    const injected = log.flatMap((e) => {
      const kind = e.injected ? faultPath(e.path, name, prefix) : undefined;
      return kind ? [{ ...e, kind }] : [];
    });
    const ok = (e: RequestLogEntry) => e.status !== undefined && e.status < 300;
    const mutating = (e: RequestLogEntry) => methods.includes(e.method) || e.method === 'DELETE';
    const touches = (e: RequestLogEntry, seed: string) => new RegExp(`/(seeds|gardenlets|managedseeds)/${seed}(/|\\?|$)`).test(e.path);
    return {
      rollout: name,
      windowMs,
      faultsFrom,
      faultsUntil,
      canary,
      inScope,
      outOfScope,
      injected,
      ruleHits: { status: statusRule.hits, effects: effectsRule.hits },
      requestsInWindow: log.filter((e) => e.at >= faultsFrom && e.at < faultsUntil).length,
      shootUpdates: touched,
      retries: parseRetries(ctl.logs, name),
      firstStatusWriteAfter: log.find((e) => e.at >= faultsUntil && !e.injected && faultPath(e.path, name, prefix) === 'status' && mutating(e) && ok(e))?.at,
      canaryRepairedAt: log.find((e) => e.at >= faultsUntil && !e.injected && mutating(e) && touches(e, canary) && ok(e))?.at,
      succeededAt,
      final: done.status!,
      versions,
      outOfScopeWrites: log.filter((e) => mutating(e) && outOfScope.some((s) => touches(e, s))).map((e) => `${e.method} ${e.path}`),
      outOfScopeMarked: seeds.filter((s) => outOfScope.includes(s.metadata.name) && Object.keys(s.metadata.annotations ?? {}).some((k) => k.startsWith('canary.gardener.cloud/'))).map((s) => s.metadata.name),
    };
  } finally {
    await deleteRollouts(client, [name], 60_000).catch(() => undefined);
    await controller?.stop();
    await proxy.stop();
    await sim?.stop();
    await deleteLandscape(client, prefix);
    rmSync(dir, { recursive: true, force: true });
    progress('cleaned up');
  }
}

/** Gaps between successive injected answers, ms. */
export function gaps(r: FaultWritesResult): number[] {
  return r.injected.slice(1).map((e, i) => e.at - r.injected[i]!.at);
}

/** The figures of a run, for the one-line summary and the bench's JSON. */
export function figures(r: FaultWritesResult) {
  const byPath: Partial<Record<FaultPath, number>> = {};
  for (const e of r.injected) byPath[e.kind] = (byPath[e.kind] ?? 0) + 1;
  const g = gaps(r);
  const last = r.injected.at(-1);
  return {
    windowSeconds: r.windowMs / 1000,
    injectedByPath: byPath,
    attempts: r.injected.length,
    attemptsPerMinute: Math.round((r.injected.length * 60_000 * 10) / r.windowMs) / 10,
    requestsInWindow: r.requestsInWindow,
    shootUpdatesInWindow: r.shootUpdates,
    gapsMs: g,
    maxGapMs: Math.max(0, ...g),
    /** from the last failed attempt to the first status write that went through */
    lastGapMs: last && r.firstStatusWriteAfter ? r.firstStatusWriteAfter - last.at : undefined,
    retryInMs: r.retries.filter((l) => l.at >= r.faultsFrom && l.at <= r.faultsUntil + 1000).map((l) => l.retryInMs),
    /** retries sent sooner after a 429 than its Retry-After asked */
    soonerThanRetryAfter: r.injected.filter((e, i) => e.status === 429 && r.injected[i + 1] && r.injected[i + 1]!.at - e.at < RETRY_AFTER_SECONDS * 1000).length,
    recoverStatusWriteMs: r.firstStatusWriteAfter !== undefined ? r.firstStatusWriteAfter - r.faultsUntil : undefined,
    recoverCanaryLabelMs: r.canaryRepairedAt !== undefined ? r.canaryRepairedAt - r.faultsUntil : undefined,
    recoverSucceededMs: r.succeededAt - r.faultsUntil,
  };
}

export function summary(r: FaultWritesResult): string {
  const f = figures(r);
  const paths = Object.entries(f.injectedByPath).map(([k, v]) => `${k}=${v}`).join(' ');
  return (
    `window ${f.windowSeconds}s: injected ${paths} (attempts ${f.attempts}, ${f.attemptsPerMinute}/min; all requests ${f.requestsInWindow}; ${f.shootUpdatesInWindow} shoot updates), ` +
    `gaps ${f.gapsMs.map((x) => (x / 1000).toFixed(1)).join(',')}s, max gap ${(f.maxGapMs / 1000).toFixed(1)}s, retryInMs ${f.retryInMs.join(',')}, ` +
    `after the window: status write +${((f.recoverStatusWriteMs ?? NaN) / 1000).toFixed(1)}s, canary label +${((f.recoverCanaryLabelMs ?? NaN) / 1000).toFixed(1)}s, Succeeded +${(f.recoverSucceededMs / 1000).toFixed(1)}s` +
    (f.soonerThanRetryAfter ? `; ${f.soonerThanRetryAfter} retries came sooner than a 429's Retry-After (${RETRY_AFTER_SECONDS}s)` : '')
  );
}

export async function run(): Promise<void> {
  const windowSeconds = Number(process.env.BENCH_FAULT_WRITES_SECONDS ?? 120);
  const garden = await benchGarden();
  const kubeconfig = garden.kubeconfig;
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  try {
    await ensureCanaryRolloutCRD(client);
    const r = await faultWritesScenario({ client, kubeconfig, prefix: 'fwb', windowSeconds, progress: (m) => process.stderr.write(`[faults] ${m}\n`) });
    const f = figures(r);
    // what the issue promises, checked here too: a bench that "passes" while losing a wave is no figure
    const lost: string[] = [];
    if (r.final.waves?.some((w) => w.phase !== 'Succeeded')) lost.push('a wave did not succeed');
    for (const s of r.inScope) if (r.versions[s]?.[0] !== NEW_VERSION || r.versions[s]?.[1] !== gardenletChartRef(NEW_VERSION)) lost.push(`${s} not on ${NEW_VERSION}`);
    if (r.outOfScopeWrites.length) lost.push(`out-of-scope writes: ${r.outOfScopeWrites.join(', ')}`);
    console.log(JSON.stringify({ benchmark: 'faults', scenario: '503 on status writes, 429 on seed/gardenlet/managedseed patches', ...f, phase: r.final.phase, problems: lost }, null, 2));
    console.log(summary(r));
    if (lost.length) process.exitCode = 1;
  } finally {
    client.kubeConfig.close();
    await garden.stop();
  }
}
