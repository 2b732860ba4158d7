// Test-only entry point: the controller exactly as src/main.ts runs it (same flags, same Manager), plus a crash
// point. It is compiled to dist/test/support/ for the integration tests (tsconfig.test-entry.json) and never
// reaches the image (the Dockerfile builds with tsconfig.build.json and copies dist/src only).
//
// The crash point sits where the reconciler has persisted a decision and not yet applied any of its effects
// (nor consumed the operation annotation): Manager's afterStatusWrite hook. When a decision matches
// CANARY_CRASH_AFTER, the process SIGKILLs itself, so nothing after the status write runs, as if the node died.
//
// CANARY_CRASH_AFTER is a comma-separated list of crash points; the first status write that passes any of them
// kills the process. A status write passes, compared with the status it replaced:
//   <event>          a history entry it added has this event: Planned, WaveStarted, BakeStarted, WaveSucceeded,
//                    Halted, HandingBack, ... or an operation: pause, resume, promote, abort, retry
//   <phase>          the phase changed to this one: Progressing, Halted, RollingBack, RolledBack, Succeeded, ...
//   seed:<phase>     a seed entered this phase in status.waves[].seeds: seed:Promoting (the decision that
//                    promotes or releases it), seed:Released / seed:Promoted (the one that records it ready,
//                    which also triggers its shoot reconciles)
// Only rollouts named in CANARY_CRASH_ROLLOUT (comma-separated) are considered, when it is set.
// The status a write replaced is the one this process wrote last, or, for its first write, the one in the
// rollout cache when the caches had synced (before this process wrote anything; a rollout created later starts
// without a status). The crash is logged first ("crash point reached", with the point that matched).
import { pathToFileURL } from 'node:url';
import { ensureCanaryRolloutCRD } from '../../src/kube/install-crd.js';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { loadConfigOrExit, startManagerProcess } from '../../src/controller/lifecycle.js';
import { Manager } from '../../src/controller/manager.js';
import type { Decision } from '../../src/engine/decide.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { createLogger } from '../../src/util/log.js';

export const CRASH_ENV = 'CANARY_CRASH_AFTER';
export const CRASH_ROLLOUT_ENV = 'CANARY_CRASH_ROLLOUT';
export const CRASH_LOG = 'crash point reached, SIGKILL after the status write';

const historyKey = (h: { time: string; kind: string; event: string; wave?: string | undefined }) => `${h.time}|${h.kind}|${h.event}|${h.wave ?? ''}`;

function seedPhases(s: CanaryRolloutStatus | undefined): Set<string> {
  return new Set((s?.waves ?? []).flatMap((w) => (w.seeds ?? []).map((x) => `${x.name}|${x.phase}`)));
}

/** The crash points a status write from `before` to `after` passes, per the rule in the header. */
export function passedPoints(before: CanaryRolloutStatus | undefined, after: CanaryRolloutStatus): string[] {
  const out = new Set<string>();
  const known = new Set((before?.history ?? []).map(historyKey));
  for (const h of after.history ?? []) if (!known.has(historyKey(h))) out.add(h.event);
  if (after.phase && after.phase !== (before?.phase ?? 'Pending')) out.add(after.phase);
  const had = seedPhases(before);
  for (const sp of seedPhases(after)) if (!had.has(sp)) out.add(`seed:${sp.split('|')[1]}`);
  return [...out];
}

export function parsePoints(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/**
 * Tracks the last status of each rollout and says which configured crash point a decision's status write passes.
 * `baseline` gives the status a rollout had before this process wrote any.
 */
export class CrashPoints {
  private readonly last = new Map<string, CanaryRolloutStatus | undefined>();

  constructor(
    readonly points: readonly string[],
    readonly rollouts: readonly string[],
    private readonly baseline: (rollout: string) => CanaryRolloutStatus | undefined,
  ) {}

  /** Records the write; returns the crash point it passes, if any. */
  written(rollout: string, decision: Pick<Decision, 'status'>): string | undefined {
    const before = this.last.has(rollout) ? this.last.get(rollout) : this.baseline(rollout);
    this.last.set(rollout, decision.status);
    if (this.rollouts.length && !this.rollouts.includes(rollout)) return undefined;
    const passed = passedPoints(before, decision.status);
    return this.points.find((p) => passed.includes(p));
  }
}

async function run(): Promise<void> {
  const config = loadConfigOrExit();
  const points = parsePoints(process.env[CRASH_ENV]);
  if (!points.length) {
    console.error(`${CRASH_ENV} is not set: name the crash point(s), e.g. ${CRASH_ENV}=RollingBack`);
    process.exit(2);
  }
  const log = createLogger({ level: config.logLevel }).with({ component: 'canary-rollout-controller' });
  const kc = loadKubeConfig(config.kubeconfig);
  if (config.installCRD) await ensureCanaryRolloutCRD(new KubeClient(kc));

  // statuses as the synced cache had them, taken before this process can have written any (see start below)
  const baseline = new Map<string, CanaryRolloutStatus | undefined>();
  const crash = new CrashPoints(points, parsePoints(process.env[CRASH_ROLLOUT_ENV]), (n) => baseline.get(n));
  const manager: Manager = new Manager(kc, config, log, {
    hooks: {
      afterStatusWrite: (rollout, decision) => {
        const point = crash.written(rollout, decision);
        if (!point) return;
        log.info(CRASH_LOG, { rollout, point, phase: decision.status.phase, eventsLost: decision.events.map((e) => e.reason) });
        process.kill(process.pid, 'SIGKILL');
      },
    },
  });
  await startManagerProcess(manager, log);
  // start() returns once the caches have synced and the leader campaign has begun; the first reconcile waits for
  // the lease (a request away), so nothing this process wrote is in the cache yet
  for (const r of manager.rollouts.list()) baseline.set(r.metadata.name, r.status);
  log.info('controller running', { metricsPort: manager.port, crashAfter: points });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
