// Pre-flight checks and the reconcile gate by choice (issue 17): a rollout that would fail or be undone waits in
// Pending with condition Waiting naming what to fix, touches nothing, and starts by itself once the cause is gone;
// Auto never takes ReconcileGate; maxHold pauses a reconcile gate that has held seeds too long.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutSpecInput, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { decide } from '../../src/engine/decide.js';
import type { Observation } from '../../src/engine/evaluate.js';
import { compareSemVer, parseSemVer, versionSkewProblem } from '../../src/engine/preflight.js';
import { World } from '../../src/sim/world.js';
import { runSimulation } from '../support/run-sim.js';

const SEEDS = ['aws-a', 'aws-b', 'gcp-a', 'gcp-b'];

function world(extension?: { primary: boolean }): World {
  const w = new World(1, 'v1.149.0', 'v1.150.0', { badSeeds: new Set(), badSeedFailureRate: 0, noiseRate: 0, userErrorShare: 0 });
  for (const name of SEEDS) {
    w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: { cloud: name.split('-')[0]! } });
    for (let j = 0; j < 5; j++) w.addShoot({ namespace: 'garden-p', name: `${name}-s${j}`, seed: name, hibernated: false, health: 'healthy', userError: false });
  }
  if (extension) w.enableExtension('ext', extension.primary);
  return w;
}

const gardenletSpec = (extra: Partial<CanaryRolloutSpecInput> = {}, version = 'v1.150.0') =>
  CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: `r/gardenlet:${version}` }, version } },
    waves: [{ name: 'canary', seedNames: ['aws-a'] }, { name: 'rest', percent: 100 }],
    ...extra,
  });

const extensionSpec = (target: Record<string, unknown> = {}) =>
  CanaryRolloutSpec.parse({
    target: { extension: { controllerDeployment: 'ext', version: 'v1.1.0', helm: { ociRepository: { ref: 'r/ext:v1.1.0' } }, ...target } },
    waves: [
      { name: 'canary', seedNames: ['aws-a'], bake: '2h', progressDeadline: '4h' },
      { name: 'rest', percent: 100 },
    ],
    healthGate: { minSampleSize: 3 },
    bake: '1h',
    shootReconciliation: { trigger: true },
  });

function step(spec: CanaryRolloutSpec, observation: Observation, status?: CanaryRolloutStatus) {
  return decide({ spec, generation: 1, status, observation, now: new Date('2026-12-01T10:00:00Z') }).status;
}
const waiting = (st: CanaryRolloutStatus) => st.conditions?.find((c) => c.type === 'Waiting');

describe("Gardener's version skew policy (pkg/gardenlet/bootstrappers/verify_version.go)", () => {
  it.each([
    ['v1.151.0', 'v1.151.0', undefined],
    ['v1.150.9', 'v1.151.0', undefined],
    ['v1.149.0', 'v1.151.0', undefined],
    ['v1.149.0', 'v1.151.7', undefined],
    ['v1.151.0-dev', 'v1.151.0', undefined],
    ['v1.151.1', 'v1.151.0', /is newer than gardener-apiserver v1\.151\.0/],
    ['v1.152.0-rc.1', 'v1.151.0', /is newer/],
    ['v2.0.0', 'v1.151.0', /is newer/],
    ['v1.148.9', 'v1.151.0', /more than two minor versions older.*roll out v1\.149\.0 or newer/],
    ['v0.999.0', 'v1.1.0', /more than two minor versions older/],
  ])('gardenlet %s against gardener-apiserver %s', (target, apiServer, problem) => {
    const got = versionSkewProblem(target, apiServer);
    if (problem) expect(got).toMatch(problem);
    else expect(got).toBeUndefined();
  });

  it('orders pre-releases before their release and numeric identifiers numerically', () => {
    const sorted = ['v1.0.0', 'v1.0.0-rc.10', 'v1.0.0-alpha', 'v1.0.0-rc.2', 'v1.0.0-alpha.1', 'v0.9.9'].map((v) => parseSemVer(v)!).sort(compareSemVer);
    expect(sorted.map((v) => `${v.major}.${v.minor}.${v.patch}${v.pre.length ? `-${v.pre.join('.')}` : ''}`)).toEqual([
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-rc.2',
      '1.0.0-rc.10',
      '1.0.0',
    ]);
  });

  it('says when the published version is not a version', () => {
    expect(versionSkewProblem('v1.150.0', 'latest')).toMatch(/"latest" in ConfigMap gardener-system-public\/gardener-info is not a semantic version/);
  });
});

describe('gardenlet pre-flight checks', () => {
  it("waits while an in-scope Gardenlet carries gardener-operator's auto-update label, then starts once it is gone", () => {
    const w = world();
    const obs = w.observation();
    const labelled = step(gardenletSpec(), { ...obs, gardenletAutoUpdate: new Set(['gcp-b', 'aws-a', 'other-seed']), gardenerInfo: { version: 'v1.151.0' } });
    expect(labelled.phase).toBe('Pending');
    expect(labelled.plan).toBeUndefined();
    expect(waiting(labelled)).toMatchObject({ status: 'True', reason: 'GardenletAutoUpdate' });
    expect(labelled.message).toMatch(/^2 Gardenlets in scope carry operator\.gardener\.cloud\/auto-update-gardenlet-helm-chart-ref=true \(aws-a, gcp-b\)/);
    expect(labelled.message).toMatch(/kubectl -n garden label gardenlet NAME operator\.gardener\.cloud\/auto-update-gardenlet-helm-chart-ref-\) and the rollout starts$/);
    // a labelled Gardenlet out of scope does not hold the rollout
    const scoped = step(gardenletSpec({ seedSelector: { matchLabels: { cloud: 'aws' } } }), { ...obs, gardenletAutoUpdate: new Set(['gcp-b']), gardenerInfo: { version: 'v1.151.0' } });
    expect(waiting(scoped)).toBeUndefined();
    expect(scoped.phase).toBe('Planning');
    expect(scoped.plan!.seeds).toBe(2);
    const cleared = step(gardenletSpec(), { ...obs, gardenletAutoUpdate: new Set(), gardenerInfo: { version: 'v1.151.0' } }, labelled);
    expect(cleared.phase).toBe('Planning');
    expect(waiting(cleared)).toBeUndefined();
  });

  it('waits on a version gardenlet would refuse, and when the published version cannot be read', () => {
    const obs = world().observation();
    const tooNew = step(gardenletSpec({}, 'v1.152.0'), { ...obs, gardenerInfo: { version: 'v1.151.0' } });
    expect(tooNew.phase).toBe('Pending');
    expect(waiting(tooNew)).toMatchObject({ reason: 'VersionSkew', message: expect.stringMatching(/gardenlet v1\.152\.0 is newer than gardener-apiserver v1\.151\.0/) });
    const tooOld = step(gardenletSpec({}, 'v1.148.0'), { ...obs, gardenerInfo: { version: 'v1.151.0' } });
    expect(waiting(tooOld)).toMatchObject({ reason: 'VersionSkew' });
    const unknown = step(gardenletSpec(), { ...obs, gardenerInfo: { problem: 'ConfigMap gardener-system-public/gardener-info not found' } });
    expect(unknown.phase).toBe('Pending');
    expect(waiting(unknown)).toMatchObject({ reason: 'GardenerVersionUnknown', message: expect.stringMatching(/^cannot check the version skew against gardener-apiserver: ConfigMap .* not found/) });
    // the history says it once, with the same reason
    expect(unknown.history!.filter((h) => h.event === 'Waiting')).toEqual([expect.objectContaining({ reason: 'GardenerVersionUnknown' })]);
  });
});

describe('ReconcileGate by choice', () => {
  it('Auto on a primary registration waits, says what the gate would hold and for how long, and touches nothing', () => {
    const w = world({ primary: true });
    const steps = runSimulation(w, extensionSpec(), { maxSteps: 3, stepMs: 60_000 });
    const st = steps.at(-1)!.decision.status;
    expect(st.phase).toBe('Pending');
    expect(waiting(st)).toMatchObject({ status: 'True', reason: 'ReconcileGateNotChosen' });
    // 4 seeds with 20 shoots; the rest wave (3 seeds, 15 shoots) waits at least the canary's bake (2h), at most
    // its deadline to exposure, its bake and its deadline after the bake (4h + 2h + 4h)
    expect(st.message).toMatch(/^strategy Auto does not take ReconcileGate on its own: registration ext controls resources primarily/);
    expect(st.message).toMatch(/: 4 seeds with 20 shoots; the last wave's 3 seeds \(15 shoots\) wait longest: at least 2h0m \(the bakes before it\), up to 10h0m while/);
    expect(st.message).toMatch(/set spec\.target\.extension\.maxHold .* Set spec\.target\.extension\.strategy to ReconcileGate to accept this \(kubectl patch canaryrollout NAME --type merge -p '\{"spec":\{"target":\{"extension":\{"strategy":"ReconcileGate"\}\}\}\}'\)$/);
    expect(w.changes.log).toEqual([]);
    expect(steps.every((x) => x.applied.length === 0)).toBe(true);
  });

  it('set explicitly, ReconcileGate starts; Auto on a non-primary registration takes SeedSelector as before', () => {
    const chosen = runSimulation(world({ primary: true }), extensionSpec({ strategy: 'ReconcileGate' }), { maxSteps: 3, stepMs: 60_000 }).at(-1)!.decision.status;
    expect(chosen.phase).toBe('Progressing');
    expect(chosen.extension).toMatchObject({ strategy: 'ReconcileGate', reason: 'requested' });
    const auto = runSimulation(world({ primary: false }), extensionSpec(), { maxSteps: 3, stepMs: 60_000 }).at(-1)!.decision.status;
    expect(auto.extension?.strategy).toBe('SeedSelector');
  });

  it('maxHold pauses a reconcile gate that held seeds too long (the health gate still acts); resume holds for another maxHold', () => {
    const w = world({ primary: true });
    let resumed = -1;
    const steps = runSimulation(w, extensionSpec({ strategy: 'ReconcileGate', maxHold: '90m' }), {
      maxSteps: 60,
      stepMs: 10 * 60_000,
      operator: (i, st) => {
        if (st?.phase === 'Paused' && resumed < 0) {
          resumed = i;
          return 'resume';
        }
        return undefined;
      },
    });
    const pausedAt = steps.findIndex((s) => s.decision.status.phase === 'Paused');
    expect(pausedAt).toBeGreaterThan(0);
    const paused = steps[pausedAt]!.decision;
    expect(paused.status.message).toMatch(/^the reconcile gate has held 3 seeds not released yet for 1h30m since .*, longer than spec\.target\.extension\.maxHold 90m: resume/);
    expect(paused.events).toContainEqual(expect.objectContaining({ eventType: 'Warning', reason: 'MaxHoldExceeded' }));
    // nothing was released on a timer: the seeds beyond the canary are still held
    expect(w.changes.log.filter((l) => l.startsWith('release ')).slice(0, 1)).toEqual(['release aws-a']);
    const releasedBeforeResume = steps.slice(0, resumed).flatMap((s) => s.changes).filter((l) => l.startsWith('release ') && l !== 'release aws-a');
    expect(releasedBeforeResume).toEqual([]);
    // the resume re-arms the hold: the rollout goes on (the canary's 2h bake ends) instead of pausing again at once
    const after = steps.slice(resumed + 1).map((s) => s.decision.status.phase);
    expect(after.slice(0, 3)).toEqual(['Progressing', 'Progressing', 'Progressing']);
    expect(steps.at(-1)!.decision.status.phase).toBe('Succeeded');
  });
});
