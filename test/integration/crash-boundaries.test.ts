// Crash boundaries on the real garden API. The reconciler persists a decision before it applies the decision's
// effects; a controller that dies in between must not lose them. For each transition that carries effects, a
// crash controller (test/support/crash-controller.ts: the production controller plus a SIGKILL of itself right
// after the status write of a chosen transition, before any effect or the operation annotation's removal) drives
// the rollout to that transition and dies. A normal controller (dist/bundle/main.js) then takes the same lease, and
// the garden must reach the state the persisted status owes within BOUND_MS.
//
// Every case asserts that desired state, not what today's code happens to do: a boundary whose effects are only
// emitted on the transition itself fails until the garden state is derived from the persisted status and
// re-applied on every reconcile. Each check collects every unmet expectation, so a failure names all of them.
//
// One landscape per target kind; each case creates its own rollout (a gardenlet case takes its own canary seed, so
// that a faulty version on one canary never becomes the next case's baseline) and deletes it afterwards. The
// crashed holder's lease is expired by the test once its process is gone (what 15 s of waiting would do; leader
// takeover itself is e2e-leader's subject).
//
// Run it alone (the path before --selectProjects, which takes every later word as a project name):
//   node --experimental-vm-modules node_modules/jest/bin/jest.js test/integration/crash-boundaries.test.ts --selectProjects integration
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRollout, type CanaryRolloutSpecInput, type Operation } from '../../src/api/v1alpha1.js';
import { operationPatch } from '../../src/cli/kubectl-canary/commands.js';
import { ANNOTATION_CANARY, ANNOTATION_ROLLOUT, ANNOTATION_STOPPED_BY, ANNOTATION_WAVE } from '../../src/controller/seed-marks.js';
import { releaseLabel, sameHelm } from '../../src/engine/extension.js';
import { ANNOTATION_EMERGENCY_STOP, ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, Seed, Shoot } from '../../src/gardener/api.js';
import { RESOURCES, type ResourceType } from '../../src/kube/client.js';
import { Reflector } from '../../src/kube/reflector.js';
import { deleteExtension, ensureExtension } from '../../src/sim/extension-fixtures.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { extensionChartRef, gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, extensionRollout, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { createLogger } from '../../src/util/log.js';
import { CRASH_LOG } from '../support/crash-controller.js';
import { CRASH_ENTRY, freeLease, startController, type ControllerProcess } from '../support/controller.js';
import { eventually, NotYet, waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

/** How long the restarted controller has to converge the garden. */
const BOUND_MS = 30_000;
/** How long driving a rollout to its crash point may take. */
const DRIVE_MS = 90_000;
const NO_CRD = ['--install-crd', 'false']; // beforeAll installs it once

const client = gardenClient();
const quiet = createLogger({ level: 'error' });

let crashing: ControllerProcess | undefined;
let controller: ControllerProcess | undefined;
let selector = '';
const created: string[] = [];

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
});

afterAll(() => {
  client.kubeConfig.close();
});

// ---------------------------------------------------------------------------------------------------------
// The crash, the restart, and reading the garden

interface Crash {
  point: string;
  phase: string;
  effectsLost: string[];
}

/** Starts the crash controller for the current landscape, to die right after the status write of `point` for `rollout`. */
async function startCrashController(point: string, rollout: string): Promise<ControllerProcess> {
  crashing = await startController(selector, NO_CRD, true, { entry: CRASH_ENTRY, env: { CANARY_CRASH_AFTER: point, CANARY_CRASH_ROLLOUT: rollout } });
  return crashing;
}

/** Waits until the crash controller has SIGKILLed itself at its crash point, then frees its lease. */
async function crashed(c: ControllerProcess, point: string): Promise<Crash> {
  let timer: NodeJS.Timeout | undefined;
  const end = await Promise.race([c.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), DRIVE_MS)))]);
  clearTimeout(timer);
  if (end === 'timeout') throw new Error(`the crash controller did not reach ${point} within ${DRIVE_MS / 1000}s\n${c.logs.slice(-15).join('\n')}`);
  if (end.signal !== 'SIGKILL') throw new Error(`the crash controller exited with ${end.code ?? end.signal}, not by SIGKILL at ${point}\n${c.logs.slice(-15).join('\n')}`);
  const line = c.logs.find((l) => l.includes(CRASH_LOG));
  if (!line) throw new Error(`the crash controller was killed, but not by its crash point\n${c.logs.slice(-15).join('\n')}`);
  const crash = JSON.parse(line) as Crash;
  expect(crash.point).toBe(point);
  await freeLease(client, selector);
  return crash;
}

/** The normal controller (MAIN_ENTRY) on the same lease; resolves once it leads. */
async function restart(): Promise<ControllerProcess> {
  controller = await startController(selector, NO_CRD);
  return controller;
}

/** Waits, within BOUND_MS of the restart, until `problems` reports none. */
async function converges(what: string, problems: () => Promise<string[]>): Promise<void> {
  await eventually(what, async () => expect(await problems()).toEqual([]), BOUND_MS, controller);
}

/** Ends the case: no crash controller left, a normal controller deletes the case's rollouts (finalizer), then stops. */
async function endCase(extra?: () => Promise<void>): Promise<void> {
  if (crashing && crashing.child.exitCode === null && crashing.child.signalCode === null) await crashing.stop();
  else if (crashing && !controller) await freeLease(client, selector).catch(() => undefined);
  crashing = undefined;
  controller ??= await startController(selector, NO_CRD);
  try {
    await deleteRollouts(client, created.splice(0), 60_000);
    await extra?.();
  } finally {
    await controller.stop();
    controller = undefined;
  }
}

const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);

/** Polls the rollout until `pred` holds; fails early if the crash controller died before. */
function until(name: string, what: string, pred: (r: CanaryRollout) => boolean, c?: ControllerProcess): Promise<CanaryRollout> {
  return waitFor(
    what,
    async () => {
      const r = await get(name);
      if (pred(r)) return r;
      if (c && (c.child.exitCode !== null || c.child.signalCode !== null)) throw new Error(`the crash controller died before ${what}: phase ${r.status?.phase}\n${c.logs.slice(-10).join('\n')}`);
      throw new NotYet(`phase ${r.status?.phase}, ${r.status?.message}`);
    },
    DRIVE_MS,
    { pollMs: 200, logs: c?.logs },
  );
}

const operate = (name: string, op: Operation, reason: string) => client.patch(RESOURCES.canaryRollouts, name, operationPatch(op, reason));
const seeds = (prefix: string) => client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
/** Rollouts holding the seed's emergency stop. */
const holders = (s: Seed) => (s.metadata.annotations?.[ANNOTATION_STOPPED_BY] ?? '').split(',').filter(Boolean);
const stoppedBy = (s: Seed, rollout: string) => s.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP] === 'true' && holders(s).includes(rollout);
const gardenletRef = async (seed: string) => (await client.get(RESOURCES.gardenlets, Gardenlet, seed, 'garden')).spec.deployment?.helm?.ociRepository;
const plannedSeeds = (r: CanaryRollout) => (r.status?.plan?.waves ?? []).flatMap((w, i) => w.seeds.map((s) => ({ name: s.name, wave: w.name, index: i })));

/** Marks on every planned seed: rollout, wave, and canary on the first wave's seeds only. */
async function markProblems(prefix: string, name: string): Promise<string[]> {
  const r = await get(name);
  const planned = plannedSeeds(r);
  if (!planned.length) return [`${name} has no plan in its status`];
  const byName = new Map((await seeds(prefix)).map((s) => [s.metadata.name, s.metadata.annotations ?? {}]));
  const out: string[] = [];
  for (const p of planned) {
    const a = byName.get(p.name) ?? {};
    const want = { [ANNOTATION_ROLLOUT]: name, [ANNOTATION_WAVE]: p.wave, [ANNOTATION_CANARY]: p.index === 0 ? 'true' : undefined };
    for (const [k, v] of Object.entries(want)) if (a[k] !== v) out.push(`seed ${p.name}: ${k} is ${a[k] ?? 'unset'}, want ${v ?? 'unset'}`);
  }
  return out;
}

type Generations = Map<string, { seed: string; generation: number }>;

/** metadata.generation of the shoots on `onSeeds` now (gardener-apiserver bumps it for gardener.cloud/operation=reconcile). */
async function generations(prefix: string, onSeeds: readonly string[]): Promise<Generations> {
  const shoots = await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` });
  const out: Generations = new Map();
  for (const s of shoots) {
    const seed = s.status?.seedName ?? s.spec.seedName ?? '';
    if (onSeeds.includes(seed)) out.set(`${s.metadata.namespace}/${s.metadata.name}`, { seed, generation: s.metadata.generation ?? 0 });
  }
  return out;
}

/**
 * Every shoot of `before` has run the new state since `since` (ISO time, from the rollout's status): it got a reconcile
 * request (its generation moved) and was reconciled at it, or it reconciled after `since` on its own (a shoot that
 * did owes no request: the controller derives what is owed from the shoots themselves).
 */
async function reconcileProblems(prefix: string, before: Generations, since?: string): Promise<string[]> {
  if (!before.size) return ['no shoots to check'];
  const shoots = new Map((await client.list(RESOURCES.shoots, Shoot, { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` })).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const out: string[] = [];
  for (const [key, b] of before) {
    const s = shoots.get(key);
    const g = s?.metadata.generation ?? 0;
    const observed = s?.status?.observedGeneration ?? 0;
    const op = s?.status?.lastOperation;
    const reconciledSince = since !== undefined && op?.state !== 'Processing' && op?.lastUpdateTime !== undefined && Date.parse(op.lastUpdateTime) > Date.parse(since);
    if (g <= b.generation && !reconciledSince) out.push(`shoot ${key} on ${b.seed}: no reconcile requested (generation still ${g}) nor reconciled since ${since ?? '-'}`);
    else if (observed < g) out.push(`shoot ${key} on ${b.seed}: requested (generation ${g}) but not reconciled yet (observed ${observed})`);
  }
  return out;
}

/** When the canary was released (its promotedAt), or when the revert landed (status.machine: revertedAt). */
async function since(name: string, what: 'release' | 'revert'): Promise<string | undefined> {
  const st = (await get(name)).status;
  if (what === 'release') return st?.waves?.[0]?.seeds?.[0]?.promotedAt; // the canary wave has one seed here
  return (st?.machine?.state as { context?: { revertedAt?: string } } | undefined)?.context?.revertedAt;
}

/** Records every version of the objects a watch sees, with its resourceVersion, to tell what was written first. */
class Recorder<T extends { metadata: { name: string; resourceVersion?: string | undefined } }> {
  readonly seen: T[] = [];
  private readonly reflector: Reflector<T>;
  constructor(resource: ResourceType, parse: (raw: unknown) => T | undefined, labelSelector?: string) {
    this.reflector = new Reflector<T>({
      kubeConfig: client.kubeConfig,
      resource,
      transform: parse,
      key: (o) => o.metadata.name,
      log: quiet,
      ...(labelSelector ? { labelSelector } : {}),
      onEvent: (_t, o) => void this.seen.push(o),
    });
  }
  async start(): Promise<this> {
    this.reflector.start();
    await this.reflector.waitForSync();
    return this;
  }
  stop = () => this.reflector.stop();
  /** resourceVersion of the first recorded version of `name` that satisfies `pred`. */
  first(name: string, pred: (o: T) => boolean): bigint | undefined {
    const o = this.seen.find((x) => x.metadata.name === name && pred(x));
    return o?.metadata.resourceVersion ? BigInt(o.metadata.resourceVersion) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// gardenlet target

describe('crash boundaries, gardenlet target', () => {
  const prefix = uniquePrefix('k');
  const FAULTY = 'v1.150.9';
  const seed = (provider: 'aws' | 'gcp', i: number) => `${prefix}-${provider}-${provider === 'aws' ? 'eu' : 'us'}-1-${i}`;
  let sim: LiveSimulator | undefined;

  beforeAll(async () => {
    selector = `${LABEL_LANDSCAPE}=${prefix}`;
    // every shoot a faulty gardenlet reconciles ends unhealthy: the canary gate fails on the first one
    sim = await liveLandscape(client, smallLandscape(prefix, { shootsPerSeed: 4 }), { faults: { faultyVersion: FAULTY, unhealthyRatio: 1 } });
  }, 120_000);

  afterEach(() => endCase(), 90_000);

  afterAll(async () => {
    await sim?.stop();
    await deleteLandscape(client, prefix);
  }, 120_000);

  /** Canary wave of one seed that bakes for an hour (no case needs a later wave), then the rest. */
  async function create(name: string, version: string, canary: string): Promise<void> {
    created.push(name);
    await client.create(
      RESOURCES.canaryRollouts,
      gardenletRollout(name, prefix, version, {
        waves: [
          { name: 'canary', seedNames: [canary], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 3 }, bake: '1h' },
          { name: 'rest', percent: 100 },
        ],
        healthGate: { minSampleSize: 3, maxUnhealthyRatio: 0.2 },
        bake: '1s',
        progressDeadline: '5m',
        onHalt: { emergencyStop: true, rollback: 'RevertAll' },
      }),
    );
  }

  /** Drives a faulty rollout to Halted, with the halt's stop on the canary (the crash controller applies it). */
  async function halt(name: string, canary: string, c: ControllerProcess): Promise<void> {
    await create(name, FAULTY, canary);
    await until(name, 'Halted', (r) => r.status?.phase === 'Halted', c);
    await eventually('the halt stops the canary', async () => expect(stoppedBy((await seeds(prefix)).find((s) => s.metadata.name === canary)!, name)).toBe(true), 15_000, c);
  }

  it('start (WaveStarted): every planned seed carries the marks', async () => {
    const name = `${prefix}-start`;
    const c = await startCrashController('WaveStarted', name);
    await create(name, 'v1.151.0', seed('aws', 0));
    await crashed(c, 'WaveStarted');
    await restart();
    await converges('marks on the planned seeds', () => markProblems(prefix, name));
  }, 180_000);

  it('promote (seed:Promoting): the canary\'s Gardenlet carries the target chart', async () => {
    const name = `${prefix}-promote`;
    const canary = seed('aws', 1);
    const c = await startCrashController('seed:Promoting', name);
    await create(name, 'v1.150.1', canary);
    await crashed(c, 'seed:Promoting');
    await restart();
    await converges('the canary promoted', async () => {
      const ref = (await gardenletRef(canary))?.ref;
      return ref === gardenletChartRef('v1.150.1') ? [] : [`Gardenlet ${canary}: chart ${ref}, want ${gardenletChartRef('v1.150.1')}`];
    });
  }, 180_000);

  it('halt (Halted): the halted wave\'s seeds carry the emergency stop, recorded as the rollout\'s; no other seed is touched', async () => {
    const name = `${prefix}-halt`;
    const canary = seed('aws', 2);
    const c = await startCrashController('Halted', name);
    await create(name, FAULTY, canary);
    await crashed(c, 'Halted');
    await restart();
    await converges('the canary stopped', async () => {
      const list = await seeds(prefix);
      const out: string[] = [];
      for (const s of list) {
        const a = s.metadata.annotations ?? {};
        const mine = stoppedBy(s, name);
        if (s.metadata.name === canary && !mine) out.push(`seed ${canary}: ${ANNOTATION_EMERGENCY_STOP}=${a[ANNOTATION_EMERGENCY_STOP] ?? 'unset'}, ${ANNOTATION_STOPPED_BY}=${a[ANNOTATION_STOPPED_BY] ?? 'unset'}`);
        if (s.metadata.name !== canary && holders(s).includes(name)) out.push(`seed ${s.metadata.name} of a later wave is stopped`);
      }
      for (const s of list) if (s.metadata.name !== canary && (await gardenletRef(s.metadata.name))?.ref === gardenletChartRef(FAULTY)) out.push(`seed ${s.metadata.name} of a later wave got ${FAULTY}`);
      return out;
    });
  }, 180_000);

  it('resume from Halted (resume): the halt\'s emergency stop is lifted', async () => {
    const name = `${prefix}-resume`;
    const canary = seed('gcp', 0);
    const c = await startCrashController('resume', name);
    await halt(name, canary, c);
    await operate(name, 'resume', 'crash test: failures accepted');
    await crashed(c, 'resume');
    await restart();
    await converges('the stop lifted', async () => {
      const s = (await seeds(prefix)).find((x) => x.metadata.name === canary)!;
      const a = s.metadata.annotations ?? {};
      // the faulty canary keeps failing: new failures after the resume may halt it again, and then the stop is owed
      const history = (await get(name)).status?.history ?? [];
      const resumed = history.findLastIndex((h) => h.kind === 'Operation' && h.event === 'resume');
      if (resumed >= 0 && history.findLastIndex((h) => h.event === 'Halted') > resumed) return [];
      return a[ANNOTATION_EMERGENCY_STOP] || holders(s).includes(name)
        ? [`seed ${canary}: ${ANNOTATION_EMERGENCY_STOP}=${a[ANNOTATION_EMERGENCY_STOP]}, ${ANNOTATION_STOPPED_BY}=${a[ANNOTATION_STOPPED_BY] ?? 'unset'} (phase ${(await get(name)).status?.phase})`]
        : [];
    });
  }, 180_000);

  it('abort with RevertAll (RollingBack): the canary\'s Gardenlet is back at its previous chart and the rollout is RolledBack', async () => {
    const name = `${prefix}-revert`;
    const canary = seed('gcp', 1);
    const previous = (await gardenletRef(canary))?.ref;
    const c = await startCrashController('RollingBack', name);
    await halt(name, canary, c);
    await operate(name, 'abort', 'crash test: bad version');
    await crashed(c, 'RollingBack');
    await restart();
    await converges('reverted', async () => {
      const out: string[] = [];
      const ref = (await gardenletRef(canary))?.ref;
      if (ref !== previous) out.push(`Gardenlet ${canary}: chart ${ref}, want the previous ${previous}`);
      const phase = (await get(name)).status?.phase;
      if (phase !== 'RolledBack') out.push(`phase ${phase}, want RolledBack`);
      return out;
    });
  }, 180_000);

  it('deletion while the controller is down (after resume): the finalizer removes marks and emergency stops, and the object goes', async () => {
    const name = `${prefix}-delete`;
    const canary = seed('gcp', 2);
    const c = await startCrashController('resume', name);
    await halt(name, canary, c);
    await operate(name, 'resume', 'crash test: about to delete');
    await crashed(c, 'resume');
    await client.delete(RESOURCES.canaryRollouts, name);
    expect((await get(name)).metadata.deletionTimestamp).toBeDefined(); // the finalizer holds it
    await restart();
    await converges('marks and stops gone, object gone', async () => {
      const out: string[] = [];
      for (const s of await seeds(prefix)) {
        const a = s.metadata.annotations ?? {};
        if (a[ANNOTATION_ROLLOUT] === name) out.push(`seed ${s.metadata.name} still marked`);
        if (holders(s).includes(name) || (s.metadata.name === canary && a[ANNOTATION_EMERGENCY_STOP])) out.push(`seed ${s.metadata.name} still stopped`);
      }
      if (await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, name)) out.push(`CanaryRollout ${name} still there`);
      return out;
    });
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------------------
// extension target

describe('crash boundaries, extension target', () => {
  const prefix = uniquePrefix('q');
  const primary = `${prefix}-prim`;
  const secondary = `${prefix}-sec`;
  const label = releaseLabel(secondary);
  const seed = (provider: 'aws' | 'gcp', i: number) => `${prefix}-${provider}-${provider === 'aws' ? 'eu' : 'us'}-1-${i}`;
  const CANARY = seed('aws', 0);
  const LATER = [seed('aws', 1), seed('gcp', 0), seed('gcp', 1)];
  let sim: LiveSimulator | undefined;

  const deployment = (name: string) => client.tryGet(RESOURCES.controllerDeployments, ControllerDeployment, name);
  const registration = (name: string) => client.tryGet(RESOURCES.controllerRegistrations, ControllerRegistration, name);
  const helmOf = (ext: string, version: string) => ({ ociRepository: { ref: extensionChartRef(ext, version) }, values: { replicas: 2 } });
  async function installations(reg: string): Promise<ControllerInstallation[]> {
    const all = await client.list(RESOURCES.controllerInstallations, ControllerInstallation);
    return all.filter((ci) => ci.spec.registrationRef.name === reg && ci.spec.seedRef?.name.startsWith(`${prefix}-`));
  }
  /** The original registration's installation on every seed, at the deployment's current revision; no temporary one. */
  async function settled(reg: string): Promise<boolean> {
    const cd = await deployment(reg);
    const list = await installations(reg);
    return list.length === 4 && list.every((ci) => ci.spec.deploymentRef?.resourceVersion === cd?.metadata.resourceVersion) && !(await installations(`${reg}-canary`)).length;
  }

  beforeAll(async () => {
    selector = `${LABEL_LANDSCAPE}=${prefix}`;
    await ensureExtension(client, { name: primary, type: primary, primary: true, policy: 'Always', version: 'v2.0.0' });
    await ensureExtension(client, { name: secondary, type: secondary, primary: false, policy: 'Always', version: 'v2.0.0' });
    sim = await liveLandscape(client, smallLandscape(prefix, { seedsPerRegion: 2, shootsPerSeed: 4 }), { extensions: { registrations: [primary, secondary] } });
    await eventually('installations everywhere', async () => expect((await settled(primary)) && (await settled(secondary))).toBe(true), 60_000);
  }, 180_000);

  afterEach(() => endCase(resetSeedSelector), 120_000);

  afterAll(async () => {
    await sim?.stop();
    await deleteExtension(client, primary);
    await deleteExtension(client, secondary);
    await deleteLandscape(client, prefix);
  }, 120_000);

  /**
   * What deleting a SeedSelector rollout before it finished leaves (README: the temporary registration, the gate and
   * the release labels), removed as an operator would, so that every case starts from the original registration: the
   * temporary deployment only once its registration is gone (README), as Gardener's finalizer on the registration can
   * only go while the deployment exists.
   */
  async function resetSeedSelector(): Promise<void> {
    await client.delete(RESOURCES.controllerRegistrations, `${secondary}-canary`);
    if ((await registration(secondary))?.spec.deployment?.seedSelector) await client.patch(RESOURCES.controllerRegistrations, secondary, { spec: { deployment: { seedSelector: null } } });
    for (const s of await seeds(prefix)) {
      if (s.metadata.labels?.[label]) await client.patch(RESOURCES.seeds, s.metadata.name, { metadata: { labels: { [label]: null } } });
      const g = await client.get(RESOURCES.gardenlets, Gardenlet, s.metadata.name, 'garden');
      if (seedConfigLabels(g)[label]) await client.patch(RESOURCES.gardenlets, s.metadata.name, { spec: { config: { seedConfig: { metadata: { labels: { [label]: null } } } } } }, 'garden');
    }
    await eventually('back on the original registration', async () => expect({ settled: await settled(secondary), temporary: (await registration(`${secondary}-canary`))?.metadata.name }).toEqual({ settled: true }), 60_000);
    await client.delete(RESOURCES.controllerDeployments, `${secondary}-canary`);
  }

  const seedConfigLabels = (g: Gardenlet) => (g.spec.config as { seedConfig?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.seedConfig?.metadata?.labels ?? {};

  async function create(name: string, ext: string, version: string, strategy: 'ReconcileGate' | 'SeedSelector', spec: Omit<Partial<CanaryRolloutSpecInput>, 'target'> = {}): Promise<void> {
    created.push(name);
    await client.create(
      RESOURCES.canaryRollouts,
      extensionRollout(
        name,
        prefix,
        ext,
        version,
        {
          waves: [
            { name: 'canary', seedNames: [CANARY], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 2 }, bake: '1h' },
            { name: 'rest', percent: 100, maxConcurrentSeeds: 3 },
          ],
          healthGate: { minSampleSize: 2, maxUnhealthyRatio: 0.2 },
          bake: '1s',
          progressDeadline: '5m',
          shootReconciliation: { trigger: true, maxPerMinute: 600 },
          onHalt: { emergencyStop: true, rollback: 'RevertAll' },
          ...spec,
        },
        { values: { replicas: 2 }, strategy },
      ),
    );
  }

  const seedPhase = (r: CanaryRollout, seedName: string) => r.status?.waves?.flatMap((w) => w.seeds ?? []).find((s) => s.name === seedName)?.phase;
  const canaryReleased = (r: CanaryRollout) => seedPhase(r, CANARY) === 'Released';

  describe('ReconcileGate (primary registration)', () => {
    it('start (WaveStarted): every later seed is stopped before the ControllerDeployment changes; marks', async () => {
      const name = `${prefix}-gstart`;
      const target = helmOf(primary, 'v2.1.0');
      const c = await startCrashController('WaveStarted', name);
      await create(name, primary, 'v2.1.0', 'ReconcileGate');
      await crashed(c, 'WaveStarted');
      // from here on, every version of the seeds and the deployment, in the order etcd wrote them
      const seedLog = await new Recorder(RESOURCES.seeds, (raw) => Seed.safeParse(raw).data, selector).start();
      const cdLog = await new Recorder(RESOURCES.controllerDeployments, (raw) => {
        const cd = ControllerDeployment.safeParse(raw).data;
        return cd?.metadata.name === primary ? cd : undefined;
      }).start();
      try {
        await restart();
        await converges('the gate stands, the new content is live', async () => {
          const out = await markProblems(prefix, name);
          const cd = await deployment(primary);
          if (!sameHelm(cd?.helm, target)) out.push(`ControllerDeployment ${primary} does not carry ${target.ociRepository.ref}`);
          const list = await seeds(prefix);
          for (const n of LATER) if (!stoppedBy(list.find((s) => s.metadata.name === n)!, name)) out.push(`seed ${n} (not released) is not stopped by ${name}`);
          // the canary may be released by the decision right after the start; every other seed must have been
          // stopped before its installation could run the new content
          const changed = cdLog.first(primary, (o) => sameHelm(o.helm, target));
          for (const n of LATER) {
            const stopped = seedLog.first(n, (o) => stoppedBy(o, name));
            if (changed !== undefined && (stopped === undefined || stopped > changed)) out.push(`seed ${n} was not stopped (rv ${stopped ?? 'never'}) before ${primary} changed (rv ${changed})`);
          }
          return out;
        });
      } finally {
        await seedLog.stop();
        await cdLog.stop();
      }
    }, 180_000);

    it('release (seed:Promoting): the canary\'s stop is lifted, the later seeds stay held', async () => {
      const name = `${prefix}-grel`;
      const c = await startCrashController('seed:Promoting', name);
      await create(name, primary, 'v2.2.0', 'ReconcileGate');
      await crashed(c, 'seed:Promoting');
      await restart();
      await converges('the canary released', async () => {
        const list = await seeds(prefix);
        const out: string[] = [];
        const canary = list.find((s) => s.metadata.name === CANARY)!;
        if (canary.metadata.annotations?.[ANNOTATION_EMERGENCY_STOP]) out.push(`seed ${CANARY} still stopped (${canary.metadata.annotations?.[ANNOTATION_STOPPED_BY] ?? 'operator'})`);
        for (const n of LATER) if (!stoppedBy(list.find((s) => s.metadata.name === n)!, name)) out.push(`seed ${n} (not released) is not stopped by ${name}`);
        return out;
      });
    }, 180_000);

    it('shoot reconciles (seed:Released): every shoot on the released canary is asked to reconcile, and reconciles', async () => {
      const name = `${prefix}-gtrig`;
      const c = await startCrashController('seed:Released', name);
      await create(name, primary, 'v2.3.0', 'ReconcileGate');
      await crashed(c, 'seed:Released');
      const before = await generations(prefix, [CANARY]);
      await restart();
      await converges('the canary\'s shoots reconciled on request', async () => reconcileProblems(prefix, before, await since(name, 'release')));
    }, 180_000);

    it('abort with RevertAll (RollingBack): the previous ControllerDeployment content is back everywhere, stops lifted, released shoots reconciled, RolledBack', async () => {
      const name = `${prefix}-grev`;
      const previous = (await deployment(primary))!.helm;
      const c = await startCrashController('RollingBack', name);
      const atStart = await generations(prefix, [CANARY]);
      await create(name, primary, 'v2.4.0', 'ReconcileGate');
      await until(name, 'the canary released', canaryReleased, c);
      // the release's reconciles are done, so that any request counted below comes after the crash
      await eventually('the release\'s reconciles', async () => expect(await reconcileProblems(prefix, atStart, await since(name, 'release'))).toEqual([]), 15_000, c);
      await operate(name, 'abort', 'crash test: back to the previous content');
      await crashed(c, 'RollingBack');
      const before = await generations(prefix, [CANARY]);
      await restart();
      await converges('reverted', async () => {
        const out: string[] = [];
        const cd = (await deployment(primary))!;
        if (!sameHelm(cd.helm, previous)) out.push(`ControllerDeployment ${primary} does not carry the previous content ${JSON.stringify(previous)}`);
        const behind = (await installations(primary)).filter((ci) => ci.spec.deploymentRef?.resourceVersion !== cd.metadata.resourceVersion);
        if (behind.length) out.push(`installations not at the restored revision: ${behind.map((ci) => ci.metadata.name).join(', ')}`);
        for (const s of await seeds(prefix)) if (holders(s).includes(name)) out.push(`seed ${s.metadata.name} still stopped by ${name}`);
        const phase = (await get(name)).status?.phase;
        if (phase !== 'RolledBack') out.push(`phase ${phase}, want RolledBack`);
        out.push(...(await reconcileProblems(prefix, before, await since(name, 'revert'))));
        return out;
      });
    }, 180_000);
  });

  describe('SeedSelector (non-primary registration)', () => {
    const tmp = `${secondary}-canary`;

    /** Nothing of the rollout left: temporary registration and deployment gone, the gate off, no release label. */
    async function undoneProblems(): Promise<string[]> {
      const out: string[] = [];
      if (await registration(tmp)) out.push(`temporary ControllerRegistration ${tmp} still there`);
      if (await deployment(tmp)) out.push(`temporary ControllerDeployment ${tmp} still there`);
      const sel = (await registration(secondary))?.spec.deployment?.seedSelector;
      if (sel?.matchExpressions?.some((e) => e.key === label)) out.push(`ControllerRegistration ${secondary} still gated: ${JSON.stringify(sel)}`);
      for (const s of await seeds(prefix)) {
        if (s.metadata.labels?.[label]) out.push(`seed ${s.metadata.name} still labelled ${label}`);
        if (seedConfigLabels(await client.get(RESOURCES.gardenlets, Gardenlet, s.metadata.name, 'garden'))[label]) out.push(`Gardenlet ${s.metadata.name} seedConfig still labelled ${label}`);
      }
      return out;
    }

    it('start (WaveStarted): the temporary registration and deployment carry the new content, the original is gated; marks', async () => {
      const name = `${prefix}-sstart`;
      const before = (await deployment(secondary))!.helm;
      const c = await startCrashController('WaveStarted', name);
      await create(name, secondary, 'v2.1.0', 'SeedSelector');
      await crashed(c, 'WaveStarted');
      await restart();
      await converges('the seed selector in place', async () => {
        const out = await markProblems(prefix, name);
        const reg = await registration(tmp);
        if (!reg) out.push(`temporary ControllerRegistration ${tmp} missing`);
        else {
          if (reg.spec.deployment?.deploymentRefs?.[0]?.name !== tmp) out.push(`${tmp} does not deploy ${tmp}: ${JSON.stringify(reg.spec.deployment?.deploymentRefs)}`);
          if (reg.spec.deployment?.seedSelector?.matchLabels?.[label] !== 'true') out.push(`${tmp} does not select ${label}=true: ${JSON.stringify(reg.spec.deployment?.seedSelector)}`);
        }
        const cd = await deployment(tmp);
        if (!cd) out.push(`temporary ControllerDeployment ${tmp} missing`);
        else if (!sameHelm(cd.helm, helmOf(secondary, 'v2.1.0'))) out.push(`${tmp} does not carry the new content`);
        const gate = (await registration(secondary))?.spec.deployment?.seedSelector?.matchExpressions ?? [];
        if (!gate.some((e) => e.key === label && e.operator === 'DoesNotExist')) out.push(`ControllerRegistration ${secondary} has no ${label} DoesNotExist gate: ${JSON.stringify(gate)}`);
        if (!sameHelm((await deployment(secondary))?.helm, before)) out.push(`the original ControllerDeployment ${secondary} changed`);
        return out;
      });
    }, 180_000);

    it('release (seed:Promoting): the canary carries the release label on the Seed and in its seedConfig', async () => {
      const name = `${prefix}-srel`;
      const c = await startCrashController('seed:Promoting', name);
      await create(name, secondary, 'v2.2.0', 'SeedSelector');
      await crashed(c, 'seed:Promoting');
      await restart();
      await converges('the canary released', async () => {
        const out: string[] = [];
        const s = (await seeds(prefix)).find((x) => x.metadata.name === CANARY)!;
        if (s.metadata.labels?.[label] !== 'true') out.push(`seed ${CANARY}: label ${label} is ${s.metadata.labels?.[label] ?? 'unset'}`);
        const g = await client.get(RESOURCES.gardenlets, Gardenlet, CANARY, 'garden');
        if (seedConfigLabels(g)[label] !== 'true') out.push(`Gardenlet ${CANARY}: seedConfig label ${label} is ${seedConfigLabels(g)[label] ?? 'unset'}`);
        return out;
      });
    }, 180_000);

    it('shoot reconciles (seed:Released): every shoot on the released canary is asked to reconcile, and reconciles', async () => {
      const name = `${prefix}-strig`;
      const c = await startCrashController('seed:Released', name);
      await create(name, secondary, 'v2.3.0', 'SeedSelector');
      await crashed(c, 'seed:Released');
      const before = await generations(prefix, [CANARY]);
      await restart();
      await converges('the canary\'s shoots reconciled on request', async () => reconcileProblems(prefix, before, await since(name, 'release')));
    }, 180_000);

    it('success (Succeeded): the original deployment has the new content; temporary objects, gate and labels are gone', async () => {
      const name = `${prefix}-sdone`;
      const c = await startCrashController('Succeeded', name);
      await create(name, secondary, 'v2.4.0', 'SeedSelector', {
        waves: [
          { name: 'canary', seedNames: [CANARY], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 2 }, bake: '1s' },
          { name: 'rest', percent: 100, maxConcurrentSeeds: 3 },
        ],
      });
      await crashed(c, 'Succeeded');
      await restart();
      await converges('handed back, nothing left', async () => {
        const out = await undoneProblems();
        if (!sameHelm((await deployment(secondary))?.helm, helmOf(secondary, 'v2.4.0'))) out.push(`the original ControllerDeployment ${secondary} does not carry the new content`);
        return out;
      });
    }, 180_000);

    it('abort with RevertAll, rolled back (RolledBack): temporary objects, gate and labels are gone, released shoots reconciled', async () => {
      const name = `${prefix}-srev`;
      const previous = (await deployment(secondary))!.helm;
      const c = await startCrashController('RolledBack', name);
      const atStart = await generations(prefix, [CANARY]);
      await create(name, secondary, 'v2.5.0', 'SeedSelector');
      await until(name, 'the canary released', canaryReleased, c);
      await eventually('the release\'s reconciles', async () => expect(await reconcileProblems(prefix, atStart, await since(name, 'release'))).toEqual([]), 15_000, c);
      await operate(name, 'abort', 'crash test: back to the original registration');
      await crashed(c, 'RolledBack');
      const before = await generations(prefix, [CANARY]);
      await restart();
      await converges('rolled back, nothing left', async () => {
        const out = await undoneProblems();
        if (!sameHelm((await deployment(secondary))?.helm, previous)) out.push(`the original ControllerDeployment ${secondary} changed`);
        out.push(...(await reconcileProblems(prefix, before, await since(name, 'revert'))));
        return out;
      });
    }, 180_000);
  });
});
