import { describe, expect, it } from '@jest/globals';
import { HealthGate } from '../../src/api/health-gate.js';
import type { Seed, Shoot } from '../../src/gardener/api.js';
import { observe, unhealthyOn, type ShootFactsMemo } from '../../src/engine/evaluate.js';
import { addVerdict, assessSeed, assessShoot, computeShootStatus, emptyTally, gatePolicy, isExposed, turnedUnhealthy, type Exposure, type KnownFailures } from '../../src/engine/health.js';
import { seedStatus, shootStatus, type ShootStatusInput } from '../../src/sim/status.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const V = 'v1.150.0';

function shoot(over: Partial<ShootStatusInput> = {}, meta: Partial<Shoot['metadata']> = {}, spec: Partial<Shoot['spec']> = {}): Shoot {
  return {
    metadata: { name: 's1', namespace: 'garden-p', ...meta },
    spec: { provider: { type: 'aws' }, ...spec },
    status: shootStatus({ seedName: 'seed', gardenerVersion: V, health: 'healthy', now: NOW, ...over }),
  } as Shoot;
}

describe('computeShootStatus (Gardener ComputeShootStatus)', () => {
  const cases: [string, Shoot, string][] = [
    ['no last operation', { metadata: { name: 'x' }, spec: { provider: { type: 'aws' } }, status: {} } as Shoot, 'healthy'],
    ['succeeded reconcile, all True', shoot(), 'healthy'],
    ['conditions Progressing', shoot({ health: 'progressing' }), 'progressing'],
    ['conditions Unknown', shoot({ health: 'unknown' }), 'unknown'],
    ['conditions False, op Error', shoot({ health: 'unhealthy' }), 'unhealthy'],
    ['all True but last op Error', shoot({ lastOperationState: 'Error' }), 'unhealthy'],
    ['processing without errors', shoot({ lastOperationState: 'Processing' }), 'healthy'],
    ['create in progress with errors', shoot({ health: 'unhealthy', lastOperationType: 'Create', lastOperationState: 'Processing' }), 'unhealthy'],
    ['create in progress, conditions False but no errors', (() => {
      const s = shoot({ health: 'unhealthy', lastOperationType: 'Create', lastOperationState: 'Processing' });
      delete s.status!.lastErrors;
      return s;
    })(), 'healthy'],
  ];
  it.each(cases)('%s -> %s', (_n, s, want) => expect(computeShootStatus(s)).toBe(want));
});

describe('turnedUnhealthy (what makes the controller reconcile a rollout at once instead of after its window)', () => {
  const healthy = shoot();
  const failing = shoot({ health: 'unhealthy' });
  const retrying = shoot({ health: 'unhealthy', lastOperationState: 'Processing' }); // a retry of a failed reconcile
  const cases: [string, Shoot, Shoot | undefined, boolean][] = [
    ['healthy -> unhealthy', failing, healthy, true],
    ['healthy -> retrying with lastErrors', retrying, healthy, true],
    ['new and unhealthy', failing, undefined, true],
    ['progressing -> unhealthy', failing, shoot({ health: 'progressing' }), true],
    ['unhealthy -> unhealthy (a heartbeat)', failing, retrying, false],
    ['unhealthy -> healthy', healthy, failing, false],
    ['healthy -> healthy', healthy, healthy, false],
    ['healthy -> progressing', shoot({ health: 'progressing' }), healthy, false],
  ];
  it.each(cases)('%s', (_n, now, before, want) => expect(turnedUnhealthy(now, before)).toBe(want));
});

/** What gardenlet writes when checkSeed refuses a reconcile: the new identity, Error, nothing run. */
function refused(): Shoot {
  const s = shoot({ lastOperationState: 'Error' });
  s.status!.lastOperation!.description = 'Shoot cannot be reconciled on seed: seed is not up to date: observed generation outdated (1/2) Operation will be retried.';
  return s;
}

describe('exposure', () => {
  const g: Exposure = { kind: 'gardenlet', version: V };
  const cases: [string, Shoot, Exposure, boolean][] = [
    ['gardenlet: new version, reconcile succeeded', shoot(), g, true],
    ['gardenlet: new version, reconcile failed (counts: that is the evidence)', shoot({ health: 'unhealthy' }), g, true],
    ['gardenlet: new version, still processing', shoot({ lastOperationState: 'Processing' }), g, false],
    ['gardenlet: old version', shoot({ gardenerVersion: 'v1.149.0' }), g, false],
    ['extension: reconciled after release', shoot(), { kind: 'extension', releasedAt: '2026-11-23T11:00:00Z' }, true],
    ['extension: last reconcile before release', shoot(), { kind: 'extension', releasedAt: '2026-11-23T12:30:00Z' }, false],
    // Gardener retries a failed reconcile: Processing, the previous lastErrors kept
    ['gardenlet: new version, failed and being retried (Processing with lastErrors)', shoot({ health: 'unhealthy', lastOperationState: 'Processing' }), g, true],
    ['gardenlet: old version, failed and being retried', shoot({ health: 'unhealthy', lastOperationState: 'Processing', gardenerVersion: 'v1.149.0' }), g, false],
    ['extension: failed after release and being retried', shoot({ health: 'unhealthy', lastOperationState: 'Processing' }), { kind: 'extension', releasedAt: '2026-11-23T11:00:00Z' }, true],
    ['extension: failed before release, retry running', shoot({ health: 'unhealthy', lastOperationState: 'Processing' }), { kind: 'extension', releasedAt: '2026-11-23T12:30:00Z' }, false],
    ['gardenlet: refused on a seed that is not up to date (nothing ran)', refused(), g, false],
  ];
  it.each(cases)('%s', (_n, s, e, want) => expect(isExposed(s, e)).toBe(want));
});

/** A failed shoot whose lastErrors carry these codes, one list per error. */
function withErrors(codes: string[][]): Shoot {
  const s = shoot({ health: 'unhealthy' });
  s.status!.lastErrors = codes.map((c, i) => ({ description: `task ${i} failed`, taskID: `task-${i}`, ...(c.length ? { codes: c } : {}), lastUpdateTime: NOW.toISOString() }));
  s.status!.conditions = s.status!.conditions!.map((c) => ({ ...c, codes: [] }));
  return s;
}

describe('assessShoot: exclusions and policies', () => {
  const policy = HealthGate.parse({});
  const exposure: Exposure = { kind: 'gardenlet', version: V };
  const none: KnownFailures = { baseline: new Set(), accepted: new Set() };
  const before: KnownFailures = { baseline: new Set(['garden-p/s1']), accepted: new Set() };
  const accepted: KnownFailures = { baseline: new Set(), accepted: new Set(['garden-p/s1']) };
  const asleep = { hibernation: { enabled: true } };
  const cases: [string, Shoot, object, KnownFailures, Record<string, unknown>][] = [
    ['not exposed', shoot({ gardenerVersion: 'v1.149.0' }), policy, none, { kind: 'notExposed' }],
    ['healthy', shoot(), policy, none, { kind: 'counted', healthy: true }],
    ['unhealthy', shoot({ health: 'unhealthy' }), policy, none, { kind: 'counted', healthy: false }],
    ['hibernated', shoot({ hibernated: true }, {}, asleep), policy, none, { kind: 'excluded', reason: 'hibernated' }],
    ['hibernated but policy counts them', shoot({ hibernated: true }, {}, asleep), HealthGate.parse({ exclude: { hibernated: false } }), none, { kind: 'counted', healthy: true }],
    // a wake-up that failed: hibernation off, still hibernated, the operation failed under the new version
    ['failed wake-up counts', shoot({ hibernated: true, health: 'unhealthy' }), policy, none, { kind: 'counted', healthy: false }],
    ['failed hibernation counts', shoot({ health: 'unhealthy' }, {}, asleep), policy, none, { kind: 'counted', healthy: false }],
    ['being deleted', shoot({}, { deletionTimestamp: '2026-11-23T11:59:00Z' }), policy, none, { kind: 'excluded', reason: 'deleting' }],
    ['user error code', shoot({ health: 'unhealthy', errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] }), policy, none, { kind: 'excluded', reason: 'userError' }],
    ['user error but policy counts them', shoot({ health: 'unhealthy', errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] }), HealthGate.parse({ exclude: { userErrors: false } }), none, { kind: 'counted', healthy: false }],
    ['retryable infra error is not a user error', shoot({ health: 'unhealthy', errorCodes: ['ERR_RETRYABLE_INFRA_DEPENDENCIES'] }), policy, none, { kind: 'counted', healthy: false }],
    ['extra excluded code', shoot({ health: 'unhealthy', errorCodes: ['ERR_RETRYABLE_INFRA_DEPENDENCIES'] }), HealthGate.parse({ exclude: { errorCodes: ['ERR_RETRYABLE_INFRA_DEPENDENCIES'] } }), none, { kind: 'excluded', reason: 'userError' }],
    ['unhealthy before the wave', shoot({ health: 'unhealthy' }), policy, before, { kind: 'excluded', reason: 'baselineUnhealthy' }],
    ['unhealthy before the wave, baseline counted by policy', shoot({ health: 'unhealthy' }), HealthGate.parse({ exclude: { baselineUnhealthy: false } }), before, { kind: 'counted', healthy: false }],
    // a resume accepts the failures seen so far whatever the baseline policy says
    ['accepted by a resume', shoot({ health: 'unhealthy' }), policy, accepted, { kind: 'excluded', reason: 'accepted' }],
    ['accepted by a resume, baseline counted by policy', shoot({ health: 'unhealthy' }), HealthGate.parse({ exclude: { baselineUnhealthy: false } }), accepted, { kind: 'excluded', reason: 'accepted' }],
    ['a user-error code beside an uncoded error counts', withErrors([['ERR_INFRA_QUOTA_EXCEEDED'], []]), policy, none, { kind: 'counted', healthy: false }],
    ['every error a user error is excluded', withErrors([['ERR_INFRA_QUOTA_EXCEEDED'], ['ERR_CONFIGURATION_PROBLEM', 'ERR_INFRA_DEPENDENCIES']]), policy, none, { kind: 'excluded', reason: 'userError' }],
    ['extension targets count user errors by default', shoot({ health: 'unhealthy', errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] }), gatePolicy(HealthGate.parse({}), 'extension'), none, { kind: 'counted', healthy: false }],
    ['extension targets exclude user errors when asked', shoot({ health: 'unhealthy', errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'] }), gatePolicy(HealthGate.parse({ exclude: { userErrors: true } }), 'extension'), none, { kind: 'excluded', reason: 'userError' }],
    ['progressing counts healthy by default', shoot({ health: 'progressing' }), policy, none, { kind: 'counted', healthy: true }],
    ['progressing excluded by policy', shoot({ health: 'progressing' }), HealthGate.parse({ progressing: 'Excluded' }), none, { kind: 'excluded', reason: 'progressing' }],
    ['unknown counts unhealthy by default', shoot({ health: 'unknown' }), policy, none, { kind: 'counted', healthy: false }],
    ['unknown counted healthy by policy', shoot({ health: 'unknown' }), HealthGate.parse({ unknown: 'Healthy' }), none, { kind: 'counted', healthy: true }],
  ];
  it.each(cases)('%s', (_n, s, p, known, want) => expect(assessShoot(s, exposure, gatePolicy(p as HealthGate, 'gardenlet'), known)).toMatchObject(want));

  it('tallies verdicts so that healthy + unhealthy + excluded = exposed', () => {
    const t = emptyTally();
    for (const [, s, p, known] of cases) addVerdict(t, assessShoot(s, exposure, gatePolicy(p as HealthGate, 'gardenlet'), known));
    const excluded = Object.values(t.excluded).reduce((a, b) => a + b, 0);
    expect(t.shoots).toBe(cases.length);
    expect(t.exposed).toBe(cases.length - 1);
    expect(t.healthy + t.unhealthy + excluded).toBe(t.exposed);
    expect(t.excluded).toEqual({ hibernated: 1, userError: 4, baselineUnhealthy: 1, accepted: 2, deleting: 1, progressing: 1, unknown: 0 });
  });
});

describe('assessSeed', () => {
  const seed = (ready: boolean, generation = 1, observed = 1): Seed =>
    ({ metadata: { name: 'x', generation }, spec: { provider: { type: 'aws', region: 'r' } }, status: seedStatus({ seedName: 'x', gardenerVersion: V, ready, generation: observed, now: NOW }) }) as Seed;
  it('is ready with current conditions and generation', () => expect(assessSeed(seed(true))).toEqual({ ready: true, version: V, reasons: [] }));
  it('is not ready when gardenlet is not', () => expect(assessSeed(seed(false)).reasons).toEqual(['GardenletReady is False', 'SeedSystemComponentsHealthy is False']));
  it('is not ready before it observed its spec', () => expect(assessSeed(seed(true, 2, 1)).reasons).toEqual(['observedGeneration 1 < generation 2']));
  it('is not ready without status.gardener (gardenlet refuses it whatever its identity)', () => {
    const s = seed(true);
    delete s.status!.gardener;
    expect(assessSeed(s)).toEqual({ ready: false, version: undefined, reasons: ['status.gardener missing'] });
  });
});

describe('wave baseline (unhealthyOn)', () => {
  it("takes only Gardener's unhealthy shoots: progressing (after every reconcile) and unknown ones are the wave's to count", () => {
    const on = (name: string, over: Partial<ShootStatusInput>) => shoot(over, { name });
    const shoots = [on('ok', {}), on('prog', { health: 'progressing' }), on('unk', { health: 'unknown' }), on('bad', { health: 'unhealthy' }), on('bad2', { health: 'unhealthy' })];
    const obs = observe([], [], shoots);
    expect(unhealthyOn(['seed', 'other'], obs)).toEqual(['garden-p/bad', 'garden-p/bad2']);
    expect(unhealthyOn(['other'], obs)).toEqual([]);
  });

  it('with a memo, builds what it builds without one, and builds the facts of a shoot object once (issue 16: no garbage per unchanged shoot)', () => {
    const on = (name: string, seedName: string, over: Partial<ShootStatusInput> = {}, spec: Partial<Shoot['spec']> = {}) => shoot({ seedName, ...over }, { name }, spec);
    const shoots = [on('a', 'seed-1'), on('b', 'seed-2', { health: 'unhealthy' }), on('c', 'seed-1', {}, { purpose: 'production', hibernation: { enabled: true } }), on('d', 'seed-2'), { ...on('e', 'seed-1'), status: {} } as Shoot];
    const memo: ShootFactsMemo = new WeakMap();
    const first = observe([], [], shoots, [], undefined, memo);
    expect(first).toEqual(observe([], [], shoots));
    expect([...first.shootsBySeed.get('seed-1')!].map((s) => s.metadata.name)).toEqual(['a', 'c']);

    // the cache replaces one shoot (d turns unhealthy) and keeps the other objects
    const changed = [...shoots];
    changed[3] = on('d', 'seed-2', { health: 'unhealthy' });
    const second = observe([], [], changed, [], undefined, memo);
    expect(second).toEqual(observe([], [], changed));
    expect(unhealthyOn(['seed-2'], second)).toEqual(['garden-p/b', 'garden-p/d']);
    for (const i of [0, 1, 2, 4]) expect(second.shoots[i]).toBe(first.shoots[i]);
    expect(second.shoots[3]).not.toBe(first.shoots[3]);
  });
});
