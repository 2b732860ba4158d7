// Reconcile triggers on the real garden API (gardener-apiserver v1.150.0): a Failed shoot that has not run the new
// version gets `retry`, which gardener-apiserver turns into a generation bump (a `reconcile` it ignores), and a shoot
// whose owner confines updates to its maintenance window is left alone unless the rollout opts in. The simulator
// plays gardenlet on the same shoots: a Failed shoot moves only after the retry, and a confined one is reconciled for
// a new gardenlet version only in its maintenance window (unless a request forced it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { Executor } from '../../src/controller/executor.js';
import { convergeEffects, desiredGarden } from '../../src/engine/desired.js';
import { observe } from '../../src/engine/evaluate.js';
import { ANNOTATION_GARDENER_OPERATION, Seed, Shoot } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { LiveSimulator } from '../../src/sim/live.js';
import { createLogger } from '../../src/util/log.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('r');
const sel = { labelSelector: `${LABEL_LANDSCAPE}=${prefix}` };
let seeds: Seed[] = [];
let shoots: Shoot[] = [];
const refresh = async () => {
  [seeds, shoots] = await Promise.all([client.list(RESOURCES.seeds, Seed, sel), client.list(RESOURCES.shoots, Shoot, sel)]);
};
const shoot = (name: string) => shoots.find((s) => s.metadata.name === name)!;
const executor = new Executor(
  client,
  {
    seed: (n) => seeds.find((s) => s.metadata.name === n),
    seeds: () => seeds,
    gardenlet: () => undefined,
    managedSeed: () => undefined,
    registration: () => undefined,
    registrations: () => [],
    deployment: () => undefined,
    freshSeed: (n) => client.tryGet(RESOURCES.seeds, Seed, n),
    freshDeployment: () => Promise.resolve(undefined),
    freshRegistration: () => Promise.resolve(undefined),
  },
  createLogger({ level: 'error' }),
  () => Date.parse('2026-12-01T00:00:00Z'),
);

// gardenlet's part: no upgrade of its own during the test (the seed's version is set by hand below), no spread
const sim = new LiveSimulator(client, createLogger({ level: 'error' }), { prefix, upgradeDelayMs: 48 * 3600_000, spreadMs: 0 });
const T = '2026-12-01T00:00:00.000Z';
const SEED = `${prefix}-aws-eu-1-0`;
/**
 * A gardenlet rollout whose canary seed runs the target: its shoots that have not run it owe a request. Written as
 * machine version 2 persisted it (plain seed records; version 3 encodes them as a table), which is still read.
 */
const progressing = {
  phase: 'Progressing',
  history: [],
  machine: {
    version: 2,
    state: { value: { progressing: 'baking' }, context: { current: 0, waves: [{ name: 'canary', startedAt: T, baseline: [] }], seeds: { [SEED]: { wave: 0, root: SEED, promotedAt: T, readyAt: T } }, accepted: [] } },
  },
} as unknown as CanaryRolloutStatus;
const spec = (includeConfinedToMaintenance: boolean, version = 'v1.150.0') =>
  CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: `r/gardenlet:${version}` }, version } },
    waves: [{ name: 'canary', seedNames: [SEED] }],
    shootReconciliation: { trigger: true, maxPerMinute: 600, includeConfinedToMaintenance },
  });
/** What the rollout writes now, derived from the live shoots, and applied by the executor. */
const converge = async (s: CanaryRolloutSpec) => {
  await refresh();
  const effects = convergeEffects(desiredGarden(s, progressing, observe(seeds, [], shoots))).filter((e) => e.type === 'requestShootReconciles');
  await executor.apply({ name: `${prefix}-r` }, effects);
  await refresh();
  return effects.flatMap((e) => (e.type === 'requestShootReconciles' ? e.shoots.map((x) => `${x.name}:${x.operation}`) : [])).sort();
};

let failed: string, confined: string, plain: string;
const windowBegin = Math.ceil((Date.now() + 6 * 3600_000) / 3600_000) * 3600_000;
const hhmmss = (ms: number) => `${String(new Date(ms).getUTCHours()).padStart(2, '0')}0000+0000`;
const op = (n: string) => `${shoot(n).status?.lastOperation?.type}/${shoot(n).status?.lastOperation?.state} ${shoot(n).status?.gardener?.version} gen ${shoot(n).metadata.generation}/${shoot(n).status?.observedGeneration}`;
const generation = new Map<string, number>();

beforeAll(async () => {
  await createLandscape(client, { prefix, providers: [{ type: 'aws', regions: ['eu-1'] }], seedsPerRegion: 1, projects: 1, shootsPerSeed: 3, gardenerVersion: 'v1.149.0' });
  await refresh();
  [failed, confined, plain] = shoots.map((s) => s.metadata.name).sort() as [string, string, string];
  const f = shoot(failed);
  // gardenlet's last reconcile of this shoot failed (by the version running now)
  await client.patchStatus(RESOURCES.shoots, failed, { status: { lastOperation: { ...f.status!.lastOperation!, state: 'Failed', description: 'reconcile failed' } } }, f.metadata.namespace);
  // the owner confines updates to the maintenance window, which begins in 6 to 7 hours (gardener-apiserver bumps no
  // generation for that change)
  await client.patch(RESOURCES.shoots, confined, { spec: { maintenance: { confineSpecUpdateRollout: true, timeWindow: { begin: hhmmss(windowBegin), end: hhmmss(windowBegin + 3600_000) } } } }, shoot(confined).metadata.namespace);
  await refresh();
  for (const s of shoots) generation.set(s.metadata.name, s.metadata.generation ?? 0);
}, 120_000);

afterAll(async () => {
  await sim.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

describe('reconcile triggers', () => {
  it('gardener-apiserver ignores reconcile on a Failed shoot: no generation bump, the annotation stays', async () => {
    await client.patch(RESOURCES.shoots, failed, { metadata: { annotations: { [ANNOTATION_GARDENER_OPERATION]: 'reconcile' } } }, shoot(failed).metadata.namespace);
    await refresh();
    expect(shoot(failed).metadata.generation).toBe(generation.get(failed));
    expect(shoot(failed).metadata.annotations?.[ANNOTATION_GARDENER_OPERATION]).toBe('reconcile');
    // and gardenlet leaves a Failed shoot observed at its generation alone
    await sim.tick();
    await refresh();
    expect(op(failed)).toBe(`Reconcile/Failed v1.149.0 gen ${generation.get(failed)}/${generation.get(failed)}`);
  });

  it('sends retry to the Failed shoot and reconcile to the plain one, leaves the confined one alone', async () => {
    expect(await converge(spec(false))).toEqual([`${failed}:retry`, `${plain}:reconcile`]);
    // gardener-apiserver accepted both: the generation went up and it removed the annotation
    for (const n of [failed, plain]) {
      expect(shoot(n).metadata.generation).toBe(generation.get(n)! + 1);
      expect(shoot(n).metadata.annotations?.[ANNOTATION_GARDENER_OPERATION]).toBeUndefined();
    }
    expect(shoot(confined).metadata.generation).toBe(generation.get(confined));
    expect(shoot(confined).metadata.annotations?.[ANNOTATION_GARDENER_OPERATION]).toBeUndefined();
    // the requests are pending at Gardener now: nothing is sent twice
    expect(await converge(spec(false))).toEqual([]);
    // gardenlet runs the retried and the requested reconcile; the confined shoot is not touched
    await sim.tick();
    await refresh();
    expect(op(failed)).toBe(`Reconcile/Succeeded v1.149.0 gen ${generation.get(failed)! + 1}/${generation.get(failed)! + 1}`);
    expect(op(plain)).toBe(`Reconcile/Succeeded v1.149.0 gen ${generation.get(plain)! + 1}/${generation.get(plain)! + 1}`);
    expect(op(confined)).toBe(`Reconcile/Succeeded v1.149.0 gen ${generation.get(confined)}/${generation.get(confined)}`);
  });

  it('writes retry only over a shoot it reads Failed: anywhere else gardener-apiserver would keep it unused', async () => {
    // what a reconcile working from a cache that still says Failed would send
    await executor.apply({ name: `${prefix}-r` }, [{ type: 'requestShootReconciles', shoots: [{ namespace: shoot(plain).metadata.namespace!, name: plain, operation: 'retry' }], pending: 0, maxPerMinute: 600 }]);
    await refresh();
    expect(shoot(plain).metadata.annotations?.[ANNOTATION_GARDENER_OPERATION]).toBeUndefined();
    expect(shoot(plain).metadata.generation).toBe(generation.get(plain)! + 1);
  });

  it('gardenlet reconciles a confined shoot for its new version only in the maintenance window', async () => {
    await client.patchStatus(RESOURCES.seeds, SEED, { status: { gardener: { ...seeds[0]!.status!.gardener, version: 'v1.150.0' } } });
    await sim.tick(Date.now());
    await refresh();
    expect(op(plain)).toMatch(/ v1\.150\.0 /); // not confined: its regular reconcile came at once
    expect(op(confined)).toMatch(/ v1\.149\.0 /);
    await sim.tick(windowBegin + 10 * 60_000);
    await refresh();
    expect(op(confined)).toBe(`Reconcile/Succeeded v1.150.0 gen ${generation.get(confined)}/${generation.get(confined)}`);
  });

  it('reconciles the confined shoot too when the rollout opts in, and gardenlet runs it at once, whatever the window', async () => {
    // a rollout of v1.150.1: its seed runs it, no shoot has yet
    await client.patchStatus(RESOURCES.seeds, SEED, { status: { gardener: { ...seeds[0]!.status!.gardener, version: 'v1.150.1' } } });
    expect(await converge(spec(false, 'v1.150.1'))).toEqual([`${failed}:reconcile`, `${plain}:reconcile`]);
    expect(await converge(spec(true, 'v1.150.1'))).toEqual([`${confined}:reconcile`]); // the others are pending
    expect(shoot(confined).metadata.generation).toBe(generation.get(confined)! + 1);
    await sim.tick(Date.now());
    await refresh();
    expect(op(confined)).toBe(`Reconcile/Succeeded v1.150.1 gen ${generation.get(confined)! + 1}/${generation.get(confined)! + 1}`);
  });
});
