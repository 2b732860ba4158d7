// What a rollout owes the garden, per phase, from the persisted status alone (desired.ts), and the order of the
// writes that converge to it. Plain data: statuses written by hand the way the machine persists them.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus, type ExtensionStatus } from '../../src/api/v1alpha1.js';
import { COMPACT_HISTORY, compactStatus } from '../../src/engine/bounds.js';
import { deletionVerdict } from '../../src/engine/deletion.js';
import { convergeEffects, desiredGarden, requeueAfter } from '../../src/engine/desired.js';
import { observe } from '../../src/engine/evaluate.js';
import type { Ctx } from '../../src/engine/machine-context.js';
import type { Shoot } from '../../src/gardener/api.js';

const gardenlet = CanaryRolloutSpec.parse({
  target: { gardenlet: { ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' } },
  waves: [{ name: 'canary', count: 1 }, { name: 'rest', percent: 100 }],
  shootReconciliation: { trigger: true, maxPerMinute: 30 },
});
const extension = (strategy: 'ReconcileGate' | 'SeedSelector') =>
  CanaryRolloutSpec.parse({
    target: { extension: { controllerDeployment: 'ext', version: 'v2.0.0', helm: { ociRepository: { ref: 'r/ext:v2.0.0' } }, strategy } },
    waves: [{ name: 'canary', count: 1 }, { name: 'rest', percent: 100 }],
  });

type Seeds = Ctx['seeds'];
const T = '2026-12-01T10:00:00.000Z';
/** a canary (promoted, ready), a managed seed below it, and one seed of the second wave (not promoted) */
const SEEDS: Seeds = {
  a: { wave: 0, root: 'a', promotedAt: T, readyAt: T, previousVersion: 'v1.0.0', previousRef: { ref: 'r/g:v1.0.0' } },
  am: { wave: 0, root: 'a', readyAt: T },
  b: { wave: 1, root: 'b' },
};

function status(phase: string, value: unknown, ctx: Partial<Ctx> = {}, extension?: ExtensionStatus, version = 2): CanaryRolloutStatus {
  const context = { current: 0, waves: [{ name: 'canary', startedAt: T, baseline: [] }, { name: 'rest', baseline: [] }], seeds: SEEDS, accepted: [], ...ctx };
  return { phase, ...(extension ? { extension } : {}), history: [], machine: { version, state: { value, context } } } as unknown as CanaryRolloutStatus;
}
const RG: ExtensionStatus = { strategy: 'ReconcileGate', reason: 'r', registrations: ['ext'], previous: { helm: { ociRepository: { ref: 'r/ext:v1.0.0' } } } };
const SS: ExtensionStatus = { ...RG, strategy: 'SeedSelector', temporary: { registration: 'ext-canary', deployment: 'ext-canary', seedLabel: 'release.canary.gardener.cloud/ext' } };

const want = (spec: CanaryRolloutSpec, st: CanaryRolloutStatus) => desiredGarden(spec, st, undefined);

describe('what a gardenlet rollout owes the garden', () => {
  it('in flight: marks on every planned seed (canary flagged), the target chart on promoted unit roots, no stop of ours', () => {
    const d = want(gardenlet, status('Progressing', { progressing: 'baking' }));
    expect(d.seeds.a).toEqual({ marks: { wave: 'canary', canary: true }, stop: false, chart: { ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' } });
    expect(d.seeds.am).toEqual({ marks: { wave: 'canary', canary: true }, stop: false }); // managed: follows its parent
    expect(d.seeds.b).toEqual({ marks: { wave: 'rest', canary: false }, stop: false });
  });

  it('halted: the halt latched its stops in the status; a pause keeps them too', () => {
    for (const phase of ['Halted', 'Paused']) {
      const d = want(gardenlet, status(phase, phase.toLowerCase(), { haltStops: ['a', 'am'] }));
      expect([d.seeds.a!.stop, d.seeds.am!.stop, d.seeds.b!.stop]).toEqual([true, true, false]);
      expect(d.seeds.a!.chart?.version).toBe('v2.0.0'); // Freeze: promoted seeds keep the new chart
    }
  });

  it('rolling back: the previous chart, written only over the target chart; the halt stays until the revert landed', () => {
    const d = want(gardenlet, status('RollingBack', 'rollingBack', { haltStops: ['a'] }));
    expect(d.seeds.a!.chart).toEqual({ ociRepository: { ref: 'r/g:v1.0.0' }, version: 'v1.0.0', previousVersion: 'v1.0.0', replaces: { ref: 'r/g:v2.0.0' } });
    expect(d.seeds.a!.stop).toBe(true);
    expect(convergeEffects(d).filter((e) => e.type === 'revertSeed')).toEqual([{ type: 'revertSeed', seed: 'a', previousVersion: 'v1.0.0', previousRef: { ref: 'r/g:v1.0.0' }, replaces: { ref: 'r/g:v2.0.0' } }]);
  });

  it('finished: nothing of the rollout is left (marks and stops go), charts are no longer its business', () => {
    for (const phase of ['Succeeded', 'RolledBack']) {
      const d = want(gardenlet, status(phase, phase === 'Succeeded' ? 'succeeded' : 'rolledBack', { haltStops: ['a'] }));
      expect(Object.values(d.seeds).every((s) => s.marks === null && s.stop === false && !s.chart)).toBe(true);
    }
  });

  it('aborted (Freeze) keeps what protects, the halt stops, until the rollout is deleted; without them it holds nothing', () => {
    const held = want(gardenlet, status('Aborted', 'aborted', { haltStops: ['a'] }));
    expect(held.seeds.a).toEqual({ marks: { wave: 'canary', canary: true }, stop: true });
    const none = want(gardenlet, status('Aborted', 'aborted', { haltStops: [] }));
    expect(none.seeds.a).toEqual({ marks: null, stop: false });
  });

  it('owes nothing before it starts, in a dry run, or for a machine version it does not know', () => {
    expect(want(gardenlet, status('Planned', 'planned', { waves: [{ name: 'canary', baseline: [] }] })).seeds).toEqual({});
    expect(want(gardenlet, { phase: 'Pending' } as CanaryRolloutStatus).seeds).toEqual({});
    expect(want(gardenlet, status('Halted', 'halted', {}, undefined, 99)).seeds).toEqual({});
  });

  it('reads a version-1 status: a halted wave keeps its stops (they were not recorded then)', () => {
    const v1 = status('Halted', 'halted', {}, undefined, 1);
    expect(Object.entries(want(gardenlet, v1).seeds).filter(([, s]) => s.stop).map(([n]) => n)).toEqual(['a', 'am']);
    const resumed = { ...status('Aborted', 'aborted', {}, undefined, 1), history: [{ time: T, kind: 'Decision', event: 'Halted' }, { time: T, kind: 'Operation', event: 'resume' }] } as CanaryRolloutStatus;
    expect(Object.values(want(gardenlet, resumed).seeds).some((s) => s.stop)).toBe(false);
  });
});

describe('what an extension rollout owes the garden', () => {
  it('ReconcileGate in flight: every unreleased seed held, and the stops come before the new content in the writes', () => {
    const d = want(extension('ReconcileGate'), status('Progressing', { progressing: 'promoting' }, {}, RG));
    expect([d.seeds.a!.stop, d.seeds.am!.stop, d.seeds.b!.stop]).toEqual([false, true, true]);
    expect(d.deployment).toEqual({ name: 'ext', helm: { ociRepository: { ref: 'r/ext:v2.0.0' } } });
    const order = convergeEffects(d).map((e) => e.type);
    expect(order.lastIndexOf('emergencyStopSeed')).toBeLessThan(order.indexOf('updateControllerDeployment'));
    expect(order.indexOf('updateControllerDeployment')).toBeLessThan(order.indexOf('clearEmergencyStop'));
  });

  it('ReconcileGate: a seed that joins the scope after planning is held while the rollout holds, released after; never one out of scope', () => {
    const seed = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { provider: { type: 'aws', region: 'r' } } });
    const obs = observe([seed('a'), seed('am'), seed('b'), seed('new'), seed('other', { team: 'x' })], [], []);
    const scoped = CanaryRolloutSpec.parse({ ...extension('ReconcileGate'), seedSelector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] } });
    const inFlight = desiredGarden(scoped, status('Progressing', { progressing: 'promoting' }, {}, RG), obs);
    expect(inFlight.seeds.new!.stop).toBe(true);
    expect(inFlight.seeds.other).toBeUndefined();
    const done = desiredGarden(scoped, status('Succeeded', 'succeeded', {}, RG), obs);
    expect(done.seeds.new!.stop).toBe(false);
    // a seed selector strategy keeps new seeds on the original registration: nothing to hold
    expect(desiredGarden(extension('SeedSelector'), status('Progressing', { progressing: 'promoting' }, {}, SS), obs).seeds.new).toBeUndefined();
  });

  it('ReconcileGate rolling back: the previous content, only over ours; unreleased seeds stay held until it landed', () => {
    const d = want(extension('ReconcileGate'), status('RollingBack', 'rollingBack', {}, RG));
    expect(d.deployment).toEqual({ name: 'ext', helm: { ociRepository: { ref: 'r/ext:v1.0.0' } }, replaces: { ociRepository: { ref: 'r/ext:v2.0.0' } } });
    expect(d.seeds.b!.stop).toBe(true);
    const done = want(extension('ReconcileGate'), status('RolledBack', 'rolledBack', { revertedAt: T }, RG));
    expect(done.deployment).toBeUndefined();
    expect(Object.values(done.seeds).every((s) => s.stop === false)).toBe(true);
  });

  it('SeedSelector: the temporary objects and the gate while in flight, released seeds labelled; hand-back and clean-up after', () => {
    const spec = extension('SeedSelector');
    const d = want(spec, status('Progressing', { progressing: 'baking' }, {}, SS));
    expect(d.temporary).toMatchObject({ present: true, registration: 'ext-canary', from: 'ext' });
    expect(d.registrationGate).toEqual({ registration: 'ext', seedLabel: SS.temporary!.seedLabel, on: true });
    expect([d.seeds.a!.releaseLabel, d.seeds.b!.releaseLabel]).toEqual(['true', null]);
    expect(d.deployment).toBeUndefined(); // the original deployment is untouched until the hand-back
    const order = convergeEffects(d).map((e) => e.type);
    expect(order.indexOf('createCanaryRegistration')).toBeLessThan(order.indexOf('gateRegistration'));
    expect(order.indexOf('gateRegistration')).toBeLessThan(order.indexOf('labelSeed'));
    const handing = want(spec, status('Progressing', 'completing', {}, SS));
    expect(handing.deployment?.helm).toEqual({ ociRepository: { ref: 'r/ext:v2.0.0' } });
    expect(handing.seeds.a!.releaseLabel).toBeNull();
    const done = want(spec, status('Succeeded', 'succeeded', {}, SS));
    expect([done.temporary?.present, done.registrationGate?.on]).toEqual([false, false]);
    const undo = convergeEffects(done).map((e) => e.type);
    expect(undo.indexOf('labelSeed')).toBeLessThan(undo.indexOf('deleteCanaryRegistration'));
    expect(undo.indexOf('deleteCanaryRegistration')).toBeLessThan(undo.lastIndexOf('gateRegistration'));
  });
});

describe('shoots that owe a reconcile request', () => {
  const shoot = (
    name: string,
    over: { generation?: number; observed?: number; version?: string; type?: string; state?: string; at?: string; hibernated?: boolean; confined?: boolean; operation?: string },
  ): Shoot =>
    ({
      metadata: { name, namespace: 'garden-p', generation: over.generation ?? 1, ...(over.operation ? { annotations: { 'gardener.cloud/operation': over.operation } } : {}) },
      spec: {
        provider: { type: 'aws' },
        seedName: 'a',
        ...(over.hibernated ? { hibernation: { enabled: true } } : {}),
        ...(over.confined !== undefined ? { maintenance: { confineSpecUpdateRollout: over.confined, timeWindow: { begin: '220000+0000', end: '230000+0000' } } } : {}),
      },
      status: {
        seedName: 'a',
        observedGeneration: over.observed ?? 1,
        gardener: { version: over.version ?? 'v1.0.0' },
        lastOperation: { type: over.type ?? 'Reconcile', state: over.state ?? 'Succeeded', lastUpdateTime: over.at ?? T },
      },
    }) as Shoot;
  const obs = (shoots: Shoot[]) => observe([], [], shoots);

  it('gardenlet, in flight: shoots on a seed ready at the target whose last finished reconcile ran the old version', () => {
    const shoots = [
      shoot('old', {}),
      shoot('done', { version: 'v2.0.0' }),
      shoot('requested', { generation: 2 }), // gardener-apiserver bumped the generation: a request is pending already
      shoot('failed', { state: 'Failed', at: '2026-12-01T09:00:00.000Z' }), // a reconcile request does nothing for it: retry
      shoot('running', { state: 'Processing' }),
      shoot('asleep', { hibernated: true }),
    ];
    const d = desiredGarden(gardenlet, status('Progressing', { progressing: 'baking' }), obs(shoots));
    expect(d.reconciles).toEqual({
      owed: [
        { namespace: 'garden-p', name: 'failed', operation: 'retry' },
        { namespace: 'garden-p', name: 'old', operation: 'reconcile' },
      ],
      pending: 1,
      maxPerMinute: 30,
    });
    expect(desiredGarden(gardenlet, status('Paused', 'paused'), obs(shoots)).reconciles.owed).toEqual([]); // a pause stops pushing
  });

  it('extension, after RevertAll landed: shoots of released seeds that last reconciled before the revert, also when final', () => {
    const shoots = [shoot('before', { at: '2026-12-01T09:00:00.000Z' }), shoot('after', { at: '2026-12-01T11:00:00.000Z' })];
    const d = desiredGarden(extension('ReconcileGate'), status('RolledBack', 'rolledBack', { revertedAt: T }, RG), obs(shoots));
    expect(d.reconciles.owed.map((s) => s.name)).toEqual(['before']);
  });

  const owed = (spec: CanaryRolloutSpec, shoots: Shoot[]) => desiredGarden(spec, status('Progressing', { progressing: 'baking' }), obs(shoots)).reconciles;
  const withReconciliation = (r: Record<string, unknown>) => CanaryRolloutSpec.parse({ ...gardenlet, shootReconciliation: { ...gardenlet.shootReconciliation, ...r } });

  it('leaves shoots whose owner confines updates to the maintenance window alone, unless the rollout opts in', () => {
    const shoots = [shoot('confined', { confined: true }), shoot('confined-failed', { confined: true, state: 'Failed' }), shoot('free', { confined: false })];
    expect(owed(gardenlet, shoots).owed.map((s) => s.name)).toEqual(['free']);
    expect(gardenlet.shootReconciliation.includeConfinedToMaintenance).toBe(false); // the default
    const optedIn = owed(withReconciliation({ includeConfinedToMaintenance: true }), shoots).owed;
    expect(optedIn.map((s) => `${s.name}:${s.operation}`).sort()).toEqual(['confined-failed:retry', 'confined:reconcile', 'free:reconcile']);
    // the opt-in alone triggers nothing: trigger is still the switch
    expect(owed(withReconciliation({ trigger: false, includeConfinedToMaintenance: true }), shoots).owed).toEqual([]);
  });

  it('a revert is not held back for confined shoots: it takes back what the rollout exposed', () => {
    const d = desiredGarden(extension('ReconcileGate'), status('RolledBack', 'rolledBack', { revertedAt: T }, RG), obs([shoot('confined', { confined: true, at: '2026-12-01T09:00:00.000Z' })]));
    expect(d.reconciles.owed).toEqual([{ namespace: 'garden-p', name: 'confined', operation: 'reconcile' }]);
  });

  it('retries Failed shoots that did not run the new version; a failure of the new version is evidence, not retried', () => {
    const shoots = [
      shoot('failed-old', { state: 'Failed' }),
      shoot('failed-create', { type: 'Create', state: 'Failed' }),
      shoot('failed-new', { state: 'Failed', version: 'v2.0.0' }), // exposed: the gate counts it
      shoot('failed-migrate', { type: 'Migrate', state: 'Failed' }), // a retry would re-run the migration: not ours
      shoot('retried', { state: 'Failed', generation: 2 }), // gardener-apiserver bumped the generation: pending
      // a reconcile annotation on a Failed shoot is never acted on (no generation bump, not removed): replaced by retry
      shoot('stuck-reconcile', { state: 'Failed', operation: 'reconcile' }),
      shoot('other-operation', { state: 'Failed', operation: 'rotate-ssh-keypair' }), // someone else's: pending, not overwritten
    ];
    const r = owed(gardenlet, shoots);
    expect(r.owed.map((s) => `${s.name}:${s.operation}`).sort()).toEqual(['failed-create:retry', 'failed-old:retry', 'stuck-reconcile:retry']);
    expect(r.pending).toBe(2);
    // an extension: a Failed shoot whose failure is older than the seed's release is retried, a younger one is exposed
    const ext = extension('ReconcileGate');
    const st = status('RolledBack', 'rolledBack', { revertedAt: T }, RG);
    const d = desiredGarden(ext, st, obs([shoot('failed-before', { state: 'Failed', at: '2026-12-01T09:00:00.000Z' }), shoot('failed-after', { state: 'Failed', at: '2026-12-01T11:00:00.000Z' })]));
    expect(d.reconciles.owed).toEqual([{ namespace: 'garden-p', name: 'failed-before', operation: 'retry' }]);
  });

  it('writes each owed shoot with its own operation, in one rate-limited effect', () => {
    const d = desiredGarden(gardenlet, status('Progressing', { progressing: 'baking' }), obs([shoot('f', { state: 'Failed', at: '2026-12-01T09:00:00.000Z' }), shoot('o', {})]));
    expect(convergeEffects(d).filter((e) => e.type === 'requestShootReconciles')).toEqual([
      {
        type: 'requestShootReconciles',
        shoots: [
          { namespace: 'garden-p', name: 'f', operation: 'retry' },
          { namespace: 'garden-p', name: 'o', operation: 'reconcile' },
        ],
        pending: 0,
        maxPerMinute: 30,
      },
    ]);
  });
});

describe('deletion', () => {
  it('waits while the rollout holds stops that deleting would lift, unless confirmed; goes ahead once finished', () => {
    const halted = status('Halted', 'halted', { haltStops: ['a'] });
    const blocked = deletionVerdict(gardenlet, halted, want(gardenlet, halted), false);
    expect(blocked.allowed).toBe(false);
    expect(blocked.message).toMatch(/holds emergency stops on 1 seeds.*confirmation.gardener.cloud\/deletion=true.*leaves gardenlet charts/);
    expect(deletionVerdict(gardenlet, halted, want(gardenlet, halted), true).allowed).toBe(true);
    const done = status('Succeeded', 'succeeded');
    expect(deletionVerdict(gardenlet, done, want(gardenlet, done), false).allowed).toBe(true);
    // a reconcile gate in flight holds its unreleased seeds: deleting it would let the new version reach them
    const gate = status('Progressing', { progressing: 'baking' }, {}, RG);
    expect(deletionVerdict(extension('ReconcileGate'), gate, want(extension('ReconcileGate'), gate), false).allowed).toBe(false);
  });
});

describe('a status compacted for the API server size limit', () => {
  it('keeps everything the rollout owes the garden: the same desired garden as the full status', () => {
    const full = {
      ...status('Halted', 'halted', { haltStops: ['a', 'am'] }),
      waves: [{ name: 'canary', phase: 'Halted', seedsPromoted: 1, seedsTotal: 2, seeds: [{ name: 'a', phase: 'Promoted' }, { name: 'am', phase: 'Promoted' }] }],
      history: Array.from({ length: 100 }, (_, i) => ({ time: T, kind: 'Decision', event: `e${i}` })),
    } as unknown as CanaryRolloutStatus;
    const small = compactStatus(full, new Date(T));
    expect(small.waves![0]!.seeds).toBeUndefined();
    expect(small.history!.map((h) => h.event)).toEqual(full.history!.slice(-COMPACT_HISTORY).map((h) => h.event));
    expect(small.conditions!.find((c) => c.type === 'StatusCompacted')).toMatchObject({ status: 'True', reason: 'ObjectTooLarge' });
    expect(JSON.stringify(small).length).toBeLessThan(JSON.stringify(full).length);
    expect(want(gardenlet, small)).toEqual(want(gardenlet, full));
  });
});

describe('when to look again', () => {
  const owing = (n: number) => ({ reconciles: { owed: Array.from({ length: n }, (_, i) => ({ namespace: 'garden-p', name: `s${i}`, operation: 'reconcile' as const })), pending: n, maxPerMinute: 60 } });
  it("keeps the decision's time while no shoot is owed a reconcile, even none (a finished rollout rests)", () => {
    expect(requeueAfter(30_000, owing(0), 0)).toBe(30_000);
    expect(requeueAfter(undefined, owing(0), 0)).toBeUndefined();
  });
  it('comes back when the rate lets the next reconcile request go, at least a second later', () => {
    expect(requeueAfter(30_000, owing(2), 4_000)).toBe(4_000);
    expect(requeueAfter(undefined, owing(2), 0)).toBe(1_000);
    expect(requeueAfter(500, owing(2), 4_000)).toBe(500);
  });
});
