// What the simulated gardenlet writes, on plain data: Gardener's condition helpers and the shoot reconciler's
// status rules it follows (src/sim/status.ts).
import { describe, expect, it } from '@jest/globals';
import { computeShootStatus } from '../../src/engine/health.js';
import type { Condition, Shoot } from '../../src/gardener/api.js';
import { inEffectiveMaintenanceWindow, unhealthyShare } from '../../src/sim/live-shoots.js';
import type { ExtensionShoot } from '../../src/sim/installations.js';
import {
  installationApplyingConditions,
  installationCareConditions,
  installationRollingOutConditions,
  mergeConditions,
  progressingAfterReconcile,
  retryingStatus,
  sameConditions,
  seedRefusal,
  shootStatus,
  updatedCondition,
} from '../../src/sim/status.js';

const at = (s: string) => new Date(`2026-12-02T10:00:${s}Z`);
const c = (type: string, status: Condition['status'], reason = 'R', t = '2026-12-02T09:00:00Z'): Condition => ({ type, status, reason, message: 'm', lastTransitionTime: t, lastUpdateTime: t });

describe('updatedCondition (v1beta1helper.UpdatedConditionWithClock)', () => {
  it('moves lastTransitionTime only on a status change, lastUpdateTime on any change', () => {
    const old = c('Installed', 'True', 'InstallationSuccessful');
    expect(updatedCondition(old, 'Installed', 'True', 'InstallationSuccessful', 'm', at('05'))).toEqual(old);
    expect(updatedCondition(old, 'Installed', 'True', 'Other', 'm', at('05'))).toMatchObject({ lastTransitionTime: old.lastTransitionTime, lastUpdateTime: '2026-12-02T10:00:05Z' });
    expect(updatedCondition(old, 'Installed', 'False', 'Other', 'm', at('05'))).toMatchObject({ lastTransitionTime: '2026-12-02T10:00:05Z', lastUpdateTime: '2026-12-02T10:00:05Z' });
  });

  it('mergeConditions replaces by type in place and appends new types', () => {
    const merged = mergeConditions([c('A', 'True'), c('B', 'True')], c('B', 'False'), c('C', 'True'));
    expect(merged.map((x) => `${x.type}=${x.status}`)).toEqual(['A=True', 'B=False', 'C=True']);
  });
});

describe('installation conditions', () => {
  it('a new revision on an installed controller keeps Installed True with its old lastTransitionTime', () => {
    const installed = installationCareConditions(undefined, true, at('00'));
    const applying = installationApplyingConditions(installed, 'extension-x', at('30'));
    const inst = applying.find((x) => x.type === 'Installed')!;
    expect([inst.status, inst.lastTransitionTime]).toEqual(['True', '2026-12-02T10:00:00Z']);
    // the reconciler writes no Progressing: the conditions stay what the care loop last wrote for the old revision
    const care = (cs: typeof installed) => cs.filter((x) => ['Installed', 'Healthy', 'Progressing'].includes(x.type));
    expect(sameConditions(care(applying), care(installed))).toBe(true);
    // a care sync inside the roll-out window says Progressing, with a fresh time
    const rolling = installationRollingOutConditions(applying, 'extension-x', at('40'));
    expect(rolling.find((x) => x.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'ControllerNotRolledOut', lastTransitionTime: '2026-12-02T10:00:40Z' });
  });

  it('a fresh installation starts Installed False (InstallationPending); the care view with nothing changed is the same conditions', () => {
    const fresh = installationApplyingConditions(undefined, 'extension-x', at('00'));
    expect(fresh.find((x) => x.type === 'Installed')).toMatchObject({ status: 'False', reason: 'InstallationPending' });
    const done = installationCareConditions(fresh, true, at('10'));
    expect(sameConditions(done, installationCareConditions(done, true, at('50')))).toBe(true);
    expect(sameConditions(done, installationCareConditions(done, false, at('50')))).toBe(false);
  });
});

describe('shoot reconciles as gardenlet writes them', () => {
  const base = shootStatus({ seedName: 's', gardenerVersion: 'v1', health: 'healthy', now: at('00') });

  it('a success turns the health conditions Progressing, but leaves False ones False (patchShootStatusOperationSuccess)', () => {
    const prev = base.conditions.map((x, i) => (i === 0 ? { ...x, status: 'False' as const } : x));
    const next = progressingAfterReconcile(prev, shootStatus({ seedName: 's', gardenerVersion: 'v2', health: 'healthy', now: at('30') }).conditions);
    expect(next.map((x) => x.status)).toEqual(['False', ...base.conditions.slice(1).map(() => 'Progressing')]);
  });

  it('a retry is Processing with the previous lastErrors, which Gardener counts unhealthy', () => {
    const failed = shootStatus({ seedName: 's', gardenerVersion: 'v2', health: 'unhealthy', now: at('00') });
    const retry = { ...failed, ...retryingStatus(failed, 's', 'v2', 2, at('10')) };
    expect([retry.lastOperation.state, retry.lastErrors]).toEqual(['Processing', failed.lastErrors]);
    const shoot = { metadata: { name: 'x', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status: retry } as unknown as Shoot;
    expect(computeShootStatus(shoot)).toBe('unhealthy');
  });

  it('a seed that is not up to date or has failing required conditions refuses the reconcile (health.CheckSeed)', () => {
    const ready = { metadata: { generation: 2 }, status: { observedGeneration: 2, conditions: [c('GardenletReady', 'True'), c('SeedSystemComponentsHealthy', 'True'), c('BackupBucketsReady', 'False')] } };
    expect(seedRefusal(ready)).toBeUndefined();
    expect(seedRefusal({ ...ready, metadata: { generation: 3 } })).toBe('Shoot cannot be reconciled on seed: seed is not up to date: observed generation outdated (2/3) Operation will be retried.');
    expect(seedRefusal({ ...ready, status: { ...ready.status, conditions: [c('GardenletReady', 'True'), c('SeedSystemComponentsHealthy', 'False')] } })).toBe(
      'Shoot cannot be reconciled on seed: seed has failing conditions: [SeedSystemComponentsHealthy] Operation will be retried.',
    );
  });
});

describe("gardenlet's effective maintenance time window (EffectiveShootMaintenanceTimeWindow)", () => {
  const shoot = (begin?: string, end?: string) => ({ spec: { provider: { type: 'aws' }, ...(begin && end ? { maintenance: { timeWindow: { begin, end } } } : {}) } });
  const at = (hhmm: string) => new Date(`2026-12-01T${hhmm}:00Z`);

  it('contains the window without its last 15 minutes, in UTC', () => {
    const s = shoot('220000+0000', '230000+0000');
    expect([at('21:59'), at('22:00'), at('22:45'), at('22:46'), at('23:00')].map((t) => inEffectiveMaintenanceWindow(s, t))).toEqual([false, true, true, false, false]);
    // 22:00-23:00 at +01:00 is 21:00-22:00 UTC
    expect([at('20:59'), at('21:00'), at('21:45'), at('21:46')].map((t) => inEffectiveMaintenanceWindow(shoot('220000+0100', '230000+0100'), t))).toEqual([false, true, true, false]);
  });

  it('spans midnight, and is the whole day without a (parsable) window', () => {
    const s = shoot('230000+0000', '010000+0000');
    expect([at('22:59'), at('23:30'), at('00:30'), at('00:45'), at('00:46')].map((t) => inEffectiveMaintenanceWindow(s, t))).toEqual([false, true, true, true, false]);
    expect(inEffectiveMaintenanceWindow(shoot(), at('12:00'))).toBe(true);
    expect(inEffectiveMaintenanceWindow(shoot('nonsense', '230000+0000'), at('12:00'))).toBe(true);
  });
});

describe('unhealthyShare (the faulty version\'s share of a seed\'s shoots)', () => {
  const shoot = (ns: string, name: string, seedName: string, hibernated = false) =>
    ({ metadata: { namespace: ns, name }, spec: { seedName, provider: { type: 'aws' }, hibernation: { enabled: hibernated } } }) as unknown as ExtensionShoot;
  const seedShoots = (prefix: string, seedName: string, n: number) => Array.from({ length: n }, (_, i) => shoot(`garden-${prefix}`, `s-${i}`, seedName));

  it('takes exactly ceil(ratio x awake shoots) of the seed, for any landscape prefix', () => {
    for (const prefix of ['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8']) {
      const shoots = [...seedShoots(prefix, 'seed-a', 4), ...seedShoots(`${prefix}x`, 'seed-b', 3), shoot(`garden-${prefix}`, 'asleep', 'seed-a', true)];
      const share = unhealthyShare(shoots, 'seed-a', 0.5);
      expect(share.size).toBe(2);
      for (const key of share) expect(key.startsWith(`garden-${prefix}/s-`)).toBe(true);
      expect(unhealthyShare(shoots, 'seed-b', 0.5).size).toBe(2);
      expect(unhealthyShare(shoots, 'seed-a', 1).size).toBe(4);
      expect(unhealthyShare(shoots, 'seed-a', 0).size).toBe(0);
    }
  });

  it('is stable: the same shoots fail however the list is ordered', () => {
    const shoots = seedShoots('zz', 'seed-a', 8);
    expect([...unhealthyShare([...shoots].reverse(), 'seed-a', 0.35)].sort()).toEqual([...unhealthyShare(shoots, 'seed-a', 0.35)].sort());
    expect(unhealthyShare(shoots, 'seed-a', 0.35).size).toBe(3);
  });
});
