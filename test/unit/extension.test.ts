// Extension rollouts through decide() on the pure simulated world (extension mode): strategy choice, the gate
// going up before the new version is live, release wave by wave, halt, RevertAll and the SeedSelector hand-back.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutSpecInput } from '../../src/api/v1alpha1.js';
import { chooseStrategy, observeExtensions, releaseLabel, seedRun, sameHelm, targetHelm } from '../../src/engine/extension.js';
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration } from '../../src/gardener/api.js';
import { World } from '../../src/sim/world.js';
import { runSimulation } from '../support/run-sim.js';

const SEEDS = ['aws-a', 'aws-b', 'gcp-a', 'gcp-b', 'az-a', 'az-b'];

function world(seed: number, opts: { primary: boolean; bad?: string[]; breaks?: string[] }): World {
  const w = new World(seed, 'v1.0.0', 'v1.1.0', { badSeeds: new Set(opts.bad ?? []), badSeedFailureRate: 0.8, noiseRate: 0, userErrorShare: 0 });
  for (const name of SEEDS) w.addSeed({ name, provider: name.split('-')[0]!, region: 'r1', labels: {}, breaksOnUpgrade: opts.breaks?.includes(name) ?? false });
  w.enableExtension('ext', opts.primary);
  for (const name of SEEDS) for (let j = 0; j < 10; j++) w.addShoot({ namespace: `garden-p${j % 3}`, name: `${name}-s${j}`, seed: name, hibernated: false, health: 'healthy', userError: false });
  return w;
}

function spec(extra: Partial<CanaryRolloutSpecInput> = {}, strategy: 'Auto' | 'ReconcileGate' | 'SeedSelector' = 'ReconcileGate'): CanaryRolloutSpec {
  return CanaryRolloutSpec.parse({
    target: { extension: { controllerDeployment: 'ext', version: 'v1.1.0', helm: { ociRepository: { ref: 'r/ext:v1.1.0' }, values: { replicas: 2 } }, strategy } },
    waves: [
      { name: 'canary', seedNames: ['aws-a'], healthGate: { maxUnhealthyRatio: 0, minSampleSize: 5 }, bake: '1h' },
      { name: 'rest', percent: 100, maxConcurrentSeeds: 2 },
    ],
    healthGate: { minSampleSize: 10 },
    bake: '30m',
    shootReconciliation: { trigger: true },
    ...extra,
  });
}

/** The world's changes of one kind (`release`, `stop`, `reconcile`, ...), their subjects in order. */
const changes = (w: World, kind: string) => w.changes.log.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));

describe('extension rollouts (pure world)', () => {
  it('primary registration: the reconcile gate (set by the operator) holds every seed before the deployment changes, releases wave by wave', () => {
    const w = world(1, { primary: true });
    const steps = runSimulation(w, spec(), { maxSteps: 400, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect(last.extension).toMatchObject({ strategy: 'ReconcileGate', registrations: ['ext'], previous: { helm: { ociRepository: { ref: 'r/ext:v1.0.0' } } } });
    expect(last.extension!.reason).toBe('requested');
    // the start: every seed held, then (and only then) the new content
    const cdAt = w.changes.log.indexOf('deployment ext v1.1.0');
    expect(w.changes.log.slice(0, cdAt).filter((l) => l.startsWith('stop ')).map((l) => l.slice(5)).sort()).toEqual([...SEEDS].sort());
    // releases follow the plan: the canary first, alone
    const releases = changes(w, 'release');
    expect(releases[0]).toBe('aws-a');
    expect(new Set(releases)).toEqual(new Set(SEEDS));
    expect([...w.seeds.values()].every((s) => !s.emergencyStopped)).toBe(true);
    // the gate passed on samples; with nothing left held, every shoot reaches the new version in time
    for (let i = 0; i < 48; i++) w.advance(10 * 60_000);
    expect(w.shoots.every((sh) => sh.ext === 'v1.1.0')).toBe(true);
    // reconciles are pulled forward once a seed runs the new revision (released), not before
    const requested = new Set(changes(w, 'reconcile').map((l) => l.split(' ')[0]));
    expect([...requested].sort()).toEqual([...SEEDS].sort());
    for (const l of w.changes.log.filter((x) => x.startsWith('reconcile '))) {
      const seed = l.split(' ')[1]!;
      expect(w.changes.log.indexOf(`release ${seed}`)).toBeLessThan(w.changes.log.indexOf(l));
    }
  });

  it('halts in the canary wave: no other seed is released, and the halted wave is stopped', () => {
    const w = world(2, { primary: true, bad: ['aws-a'] });
    const steps = runSimulation(w, spec(), { maxSteps: 200, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(changes(w, 'release')).toEqual(['aws-a']);
    expect([...w.seeds.values()].every((s) => s.emergencyStopped)).toBe(true);
    // no shoot outside the canary ran the new version
    expect(w.shoots.filter((sh) => sh.seed !== 'aws-a' && sh.ext === 'v1.1.0')).toHaveLength(0);
  });

  it('RevertAll on abort restores the previous content, then lifts the gate and reconciles the released shoots back', () => {
    const w = world(3, { primary: true, bad: ['aws-a'] });
    const s = spec({ onHalt: { rollback: 'RevertAll' } });
    const steps = runSimulation(w, s, { maxSteps: 300, stepMs: 5 * 60_000, operator: (_i, st) => (st?.phase === 'Halted' ? 'abort' : undefined) });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('RolledBack');
    expect(sameHelm(w.ext!.deployments.get('ext')!.helm, { ociRepository: { ref: 'r/ext:v1.0.0' } })).toBe(true);
    // after the revert landed: every stop lifted, and only the released canary's shoots reconciled back
    const revertAt = w.changes.log.indexOf('deployment ext v1.0.0');
    expect(revertAt).toBeGreaterThan(0);
    const after = w.changes.log.slice(revertAt);
    // (the halted canary's stop goes too: the version it halted on is gone)
    expect(after.filter((l) => l.startsWith('release ')).map((l) => l.slice(8)).sort()).toEqual([...SEEDS].sort());
    expect(new Set(after.filter((l) => l.startsWith('reconcile ')).map((l) => l.split(' ')[1]))).toEqual(new Set(['aws-a']));
    expect([...w.seeds.values()].every((x) => !x.emergencyStopped)).toBe(true);
  });

  it('a revert never overwrites someone else\'s edit of the ControllerDeployment: it waits and says so', () => {
    const w = world(3, { primary: true, bad: ['aws-a'] });
    const s = spec({ onHalt: { rollback: 'RevertAll' } });
    const theirs = { ociRepository: { ref: 'r/ext:v9.0.0' } };
    let edited = false;
    const steps = runSimulation(w, s, {
      maxSteps: 40,
      stepMs: 5 * 60_000,
      operator: (_i, st) => {
        // someone else writes their own content while the rollout rolls back (before the revert landed)
        if (st?.phase === 'RollingBack' && !edited) {
          w.ext!.deployments.get('ext')!.helm = theirs;
          edited = true;
        }
        return st?.phase === 'Halted' ? 'abort' : undefined;
      },
    });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('RollingBack');
    expect(w.ext!.deployments.get('ext')!.helm).toEqual(theirs);
    expect(last.conditions!.find((c) => c.type === 'RevertBlocked')).toMatchObject({ status: 'True', reason: 'ChangedBySomeoneElse' });
    expect(last.message).toMatch(/ControllerDeployment ext was changed by someone else/);
  });

  it('non-primary registration: Auto takes the seed selector and hands back to the original registration at the end', () => {
    const w = world(4, { primary: false });
    const steps = runSimulation(w, spec({}, 'Auto'), { maxSteps: 400, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Succeeded');
    expect(last.extension).toMatchObject({ strategy: 'SeedSelector', temporary: { registration: 'ext-canary', deployment: 'ext-canary', seedLabel: releaseLabel('ext') } });
    // nothing was ever emergency-stopped, and the original deployment was untouched until the hand-back
    expect(changes(w, 'stop')).toHaveLength(0);
    const firstCd = steps.findIndex((x) => x.applied.some((e) => e.type === 'updateControllerDeployment' && e.name === 'ext'));
    expect(steps.slice(0, firstCd).every((x) => x.decision.status.waves?.at(-1)?.phase !== 'Succeeded')).toBe(true);
    expect(steps[firstCd]!.decision.status.waves!.every((x) => x.phase === 'Succeeded')).toBe(true);
    expect(changes(w, 'deployment')).toEqual(['ext v1.1.0']);
    // the temporary objects and labels are gone; every seed runs the new version through the original registration
    expect([...w.ext!.registrations.keys()]).toEqual(['ext']);
    expect([...w.ext!.deployments.keys()]).toEqual(['ext']);
    expect(w.ext!.registrations.get('ext')!.selector).toBeUndefined();
    expect([...w.seeds.values()].every((x) => Object.keys(x.labels).length === 0)).toBe(true);
    expect([...w.ext!.installations.values()].every((ci) => ci.registration === 'ext')).toBe(true);
    for (let i = 0; i < 48; i++) w.advance(10 * 60_000);
    expect(w.shoots.every((sh) => sh.ext === 'v1.1.0')).toBe(true);
  });

  it('SeedSelector RevertAll takes seeds back to the original registration and removes the temporary one', () => {
    const w = world(5, { primary: false, bad: ['aws-a'] });
    const s = spec({ onHalt: { rollback: 'RevertAll' } }, 'Auto');
    const steps = runSimulation(w, s, { maxSteps: 300, stepMs: 5 * 60_000, operator: (_i, st) => (st?.phase === 'Halted' ? 'abort' : undefined) });
    expect(steps.at(-1)!.decision.status.phase).toBe('RolledBack');
    expect([...w.ext!.registrations.keys()]).toEqual(['ext']);
    expect(helmRef(w)).toBe('r/ext:v1.0.0');
    expect([...w.ext!.installations.values()].every((ci) => ci.registration === 'ext')).toBe(true);
  });

  it('an installation of the new version that fails in the current wave halts the rollout before its shoots are released', () => {
    const w = world(6, { primary: true, breaks: ['aws-a'] });
    const steps = runSimulation(w, spec({ waves: [{ name: 'canary', seedNames: ['aws-a'], progressDeadline: '2h' }, { name: 'rest', percent: 100 }] }), { maxSteps: 100, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(last.message).toBe('seeds stopped being ready or their installations fail: aws-a');
    // the new version is live there (reconcile gate) but its shoots were never released onto a failing installation
    expect(changes(w, 'release')).toHaveLength(0);
  });
});

describe('installation health on released seeds', () => {
  it('SeedSelector: a released seed whose new installation fails halts the rollout, before any later seed is released', () => {
    const w = world(10, { primary: false, breaks: ['aws-a'] });
    const steps = runSimulation(w, spec({ waves: [{ name: 'canary', seedNames: ['aws-a'], progressDeadline: '2h' }, { name: 'rest', percent: 100 }] }, 'SeedSelector'), { maxSteps: 100, stepMs: 5 * 60_000 });
    const last = steps.at(-1)!.decision.status;
    expect(last.phase).toBe('Halted');
    expect(last.message).toBe('seeds stopped being ready or their installations fail: aws-a');
    // never ready, so not by the deadline: by the failing installation, within the grace period after it was seen
    expect(last.history!.map((h) => h.event)).not.toContain('ProgressDeadlineExceeded');
    // the release label went on the canary only
    expect(changes(w, 'label').filter((l) => !l.endsWith(' -'))).toEqual(['aws-a true']);
  });
});

function helmRef(w: World): string | undefined {
  return (w.ext!.deployments.get('ext')!.helm.ociRepository as { ref?: string }).ref;
}

describe('strategy choice and planning refusals', () => {
  const w = world(7, { primary: true });
  const objs = () => w.extensionObjects()!;

  it('refuses SeedSelector on a primary registration, and a missing deployment, with reasons', () => {
    const obs = observeExtensions(objs().registrations, objs().deployments, objs().installations);
    const sel = chooseStrategy(spec({}, 'SeedSelector'), obs);
    expect(sel).toEqual({ ok: false, code: 'StrategyNotPossible', reason: expect.stringMatching(/controls resources primarily and Gardener forbids a seedSelector/) });
    const missing = chooseStrategy(spec({ target: { extension: { controllerDeployment: 'nope', version: 'v1.1.0', helm: { ociRepository: { ref: 'x:v1' } } } } }), obs);
    expect(missing).toEqual({ ok: false, code: 'ControllerDeploymentNotFound', reason: 'ControllerDeployment nope not found' });
  });

  it('refuses a deployment gardener-resource-manager manages until the operator says its ManagedResource is ignored', () => {
    const managed = (metadata: { annotations?: Record<string, string>; labels?: Record<string, string> }) => {
      const o = objs();
      const deployments = o.deployments.map((d) => (d.metadata.name === 'ext' ? { ...d, metadata: { ...d.metadata, ...metadata } } : d));
      return observeExtensions(o.registrations, deployments, o.installations);
    };
    const byOperator = managed({ annotations: { 'resources.gardener.cloud/origin': 'runtime:garden/extension-registration-ext' } });
    const refused = chooseStrategy(spec(), byOperator);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/^ControllerDeployment ext is managed by gardener-resource-manager \(ManagedResource runtime:garden\/extension-registration-ext\)/);
    expect(!refused.ok && refused.reason).toMatch(/resources\.gardener\.cloud\/ignore=true and set spec\.target\.extension\.managedResourceIgnored$/);
    // the managed-by label alone is enough to refuse
    expect(chooseStrategy(spec(), managed({ labels: { 'resources.gardener.cloud/managed-by': 'gardener' } })).ok).toBe(false);
    const acknowledged = spec();
    acknowledged.target.extension!.managedResourceIgnored = true;
    const taken = chooseStrategy(acknowledged, byOperator);
    expect(taken.ok && taken.status.strategy).toBe('ReconcileGate');
    expect(taken.ok && taken.status.reason).toMatch(/managed by ManagedResource runtime:garden\/extension-registration-ext, ignored on the operator's word/);
    // an unmanaged deployment says nothing about it
    const plain = chooseStrategy(spec(), observeExtensions(objs().registrations, objs().deployments, objs().installations));
    expect(plain.ok && plain.status.reason).not.toMatch(/managed by/);
  });

  it('a reconcile gate waits (and touches nothing) while a seed that runs the extension is out of scope', () => {
    const w2 = world(8, { primary: true });
    const steps = runSimulation(w2, spec({ seedSelector: { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, waves: [{ name: 'canary', seedNames: ['aws-a'] }] }), { maxSteps: 3, stepMs: 60_000 });
    const st = steps.at(-1)!.decision.status;
    expect(st.phase).toBe('Pending');
    expect(st.message).toMatch(/5 seeds run the extension but are in no wave/);
    expect(w2.changes.log).toEqual([]);
    expect(steps.every((x) => x.applied.length === 0)).toBe(true);
    expect(st.history!.filter((h) => h.event === 'Waiting')).toHaveLength(1); // said once, not every poll
  });

  it('a seed counts as running the new version only when its installation is healthy at the new revision', () => {
    const w3 = world(9, { primary: true });
    const s = spec({}, 'ReconcileGate');
    const status = { strategy: 'ReconcileGate' as const, reason: 'r', registrations: ['ext'] };
    const run = () => seedRun(s, status, observeExtensions(w3.extensionObjects()!.registrations, w3.extensionObjects()!.deployments, w3.extensionObjects()!.installations), 'aws-a');
    expect(run()).toMatchObject({ ready: false, reason: expect.stringMatching(/does not carry the new content/) });
    w3.apply([{ type: 'updateControllerDeployment', name: 'ext', helm: { ociRepository: { ref: 'r/ext:v1.1.0' }, values: { replicas: 2 } } }]);
    // gardener-controller-manager has moved the installation to the new revision; gardenlet has not installed it yet
    expect(run()).toMatchObject({ ready: false, reason: expect.stringMatching(/ext-aws-a is not healthy/) });
    w3.advance(4 * 60_000);
    expect(run()).toMatchObject({ ready: true, installedAt: new Date(w3.now).toISOString() });
  });
});

describe('installation conditions are trusted for the new revision only once they settled (ReconcileGate)', () => {
  const s = spec({}, 'ReconcileGate');
  const status = { strategy: 'ReconcileGate' as const, reason: 'r', registrations: ['ext'] };
  const since = '2026-11-23T12:00:00.000Z';
  const at = (sec: number) => new Date(Date.parse(since) + sec * 1000);
  const old = '2026-11-23T10:00:00Z';
  /** What gardenlet leaves when the revision changes: Installed/Healthy True, Progressing False, written for the old one. */
  function installation(over: { created?: string; healthy?: 'True' | 'False'; updated?: string } = {}): ControllerInstallation {
    const c = (type: string, st: string) => ({ type, status: st, lastTransitionTime: old, lastUpdateTime: type === 'Healthy' ? (over.updated ?? old) : old });
    return {
      metadata: { name: 'ext-aws-a', creationTimestamp: over.created ?? old },
      spec: { registrationRef: { name: 'ext' }, seedRef: { name: 'aws-a' }, deploymentRef: { name: 'ext', resourceVersion: '7' } },
      status: { conditions: [c('Valid', 'True'), c('Installed', 'True'), c('Healthy', over.healthy ?? 'True'), c('Progressing', 'False')] },
    } as ControllerInstallation;
  }
  const obs = (ci: ControllerInstallation) =>
    observeExtensions(
      [{ metadata: { name: 'ext' }, spec: { resources: [{ kind: 'Extension', type: 'x' }], deployment: { deploymentRefs: [{ name: 'ext' }] } } } as ControllerRegistration],
      [{ metadata: { name: 'ext', resourceVersion: '7' }, helm: targetHelm(s) } as ControllerDeployment],
      [ci],
    );
  const settle = (now: Date, contentSince = '2026-11-23T11:00:00Z') => ({ now, carePeriodMs: 30_000, revisionSince: since, contentSince });

  it('conditions from before the revision arrived wait one care period', () => {
    expect(seedRun(s, status, obs(installation()), 'aws-a', settle(at(10)))).toMatchObject({ ready: false, atRevision: true, reason: expect.stringMatching(/care loop/) });
    expect(seedRun(s, status, obs(installation()), 'aws-a', settle(at(30)))).toMatchObject({ ready: true });
  });
  it('a condition that changed after the revision arrived is evidence at once', () => {
    expect(seedRun(s, status, obs(installation({ updated: at(5).toISOString() })), 'aws-a', settle(at(10)))).toMatchObject({ ready: true });
  });
  it('an installation created after the new content went live never described the old one', () => {
    expect(seedRun(s, status, obs(installation({ created: '2026-11-23T11:30:00Z' })), 'aws-a', settle(at(1)))).toMatchObject({ ready: true });
  });
  it('a stale failure is not held against the new revision; a settled one is', () => {
    const failing = installation({ healthy: 'False' });
    expect(seedRun(s, status, obs(failing), 'aws-a', settle(at(10)))).toMatchObject({ ready: false });
    expect(seedRun(s, status, obs(failing), 'aws-a', settle(at(10))).failed).toBeUndefined();
    expect(seedRun(s, status, obs(failing), 'aws-a', settle(at(31)))).toMatchObject({ ready: false, failed: true });
  });
});
