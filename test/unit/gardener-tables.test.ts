// Gardener's own test tables for the rules src/engine/health.ts re-implements, as plain data: each row holds the
// inputs of one of Gardener's cases and the answer Gardener's test expects, and runs through our function. Source:
// gardener/gardener v1.150 (facts transcribed, no code copied). Where we answer otherwise on purpose, the row says
// so with `ours` (our answer) and a one-line comment why; the meta checks below keep those rows honest.
import { describe, expect, it } from '@jest/globals';
import type { Seed, Shoot } from '../../src/gardener/api.js';
import { assessSeed, computeShootStatus, failureExcused, USER_ERROR_CODES, type ShootStatus } from '../../src/engine/health.js';

type Cond = 'True' | 'False' | 'Unknown' | 'Progressing';
const CONDITION_OF: Record<ShootStatus, Cond> = { healthy: 'True', progressing: 'Progressing', unknown: 'Unknown', unhealthy: 'False' };

/** '' where Gardener's case leaves a field of the last operation empty. */
interface Op {
  type: string;
  state: string;
}

function shootOf(op: Op | null, errors: number, conditions: Cond[]): Shoot {
  return {
    metadata: { name: 's', namespace: 'garden-p' },
    spec: { provider: { type: 'local' } },
    status: {
      ...(op ? { lastOperation: op } : {}),
      ...(errors ? { lastErrors: Array.from({ length: errors }, () => ({ description: '' })) } : {}),
      conditions: conditions.map((status, i) => ({ type: `C${i}`, status })),
    },
  } as Shoot;
}

const succeeded: Op = { type: 'Reconcile', state: 'Succeeded' };

// ---------------------------------------------------------------------------------------------------------
// Shoot status: pkg/utils/gardener/shoot_status_test.go

// follows shoot_status_test.go #ComputeShootStatus: [case, lastOperation, number of lastErrors, conditions, status]
const COMPUTE_SHOOT_STATUS: [string, Op | null, number, Cond[], ShootStatus][] = [
  ['no lastOperation', null, 0, [], 'healthy'],
  ['Create', { type: 'Create', state: '' }, 0, [], 'healthy'],
  ['Delete', { type: 'Delete', state: '' }, 0, [], 'healthy'],
  ['Create with a lastError', { type: 'Create', state: '' }, 1, [], 'unhealthy'],
  ['Delete with a lastError', { type: 'Delete', state: '' }, 1, [], 'unhealthy'],
  ['Processing, healthy conditions', { type: '', state: 'Processing' }, 0, [], 'healthy'],
  ['Processing, a False condition', { type: '', state: 'Processing' }, 0, ['False'], 'unhealthy'],
  ['Processing, healthy conditions, a lastError', { type: '', state: 'Processing' }, 1, [], 'unhealthy'],
  ['Error, healthy conditions', { type: '', state: 'Error' }, 0, [], 'unhealthy'],
  ['Succeeded, healthy conditions', { type: '', state: 'Succeeded' }, 0, [], 'healthy'],
  ['Succeeded, an Unknown condition', { type: '', state: 'Succeeded' }, 0, ['Unknown'], 'unknown'],
  ['Succeeded, a False condition', { type: '', state: 'Succeeded' }, 0, ['False'], 'unhealthy'],
  ['Create Succeeded, a False condition', { type: 'Create', state: 'Succeeded' }, 0, ['False'], 'unhealthy'],
];

// follows shoot_status_test.go #OrWorse: [a, b, the worse]; run as two conditions of a succeeded reconcile, both orders
const OR_WORSE: [ShootStatus, ShootStatus, ShootStatus][] = [
  ['healthy', 'healthy', 'healthy'],
  ['healthy', 'progressing', 'progressing'],
  ['healthy', 'unknown', 'unknown'],
  ['healthy', 'unhealthy', 'unhealthy'],
  ['progressing', 'progressing', 'progressing'],
  ['progressing', 'unknown', 'unknown'],
  ['progressing', 'unhealthy', 'unhealthy'],
  ['unknown', 'unknown', 'unknown'],
  ['unknown', 'unhealthy', 'unhealthy'],
  ['unhealthy', 'unhealthy', 'unhealthy'],
];

// follows shoot_status_test.go #ConditionStatusToShootStatus: [condition status, status]; one condition of a succeeded reconcile
const CONDITION_STATUS: [Cond, ShootStatus][] = [
  ['True', 'healthy'],
  ['Progressing', 'progressing'],
  ['Unknown', 'unknown'],
  ['False', 'unhealthy'],
];

// follows shoot_status_test.go #ComputeConditionStatus: [case, conditions, status]; the conditions of a succeeded reconcile
// (#BoolToShootStatus has no row here: it is the lastErrors half of the #ComputeShootStatus rows above)
const COMPUTE_CONDITION_STATUS: [string, Cond[], ShootStatus][] = [
  ['no conditions', [], 'healthy'],
  ['True', ['True'], 'healthy'],
  ['True, Progressing', ['True', 'Progressing'], 'progressing'],
  ['True, Progressing, Unknown', ['True', 'Progressing', 'Unknown'], 'unknown'],
  ['True, Progressing, Unknown, False', ['True', 'Progressing', 'Unknown', 'False'], 'unhealthy'],
];

describe('shoot_status_test.go', () => {
  it.each(COMPUTE_SHOOT_STATUS)('ComputeShootStatus: %s -> %s', (_n, op, errors, conditions, want) =>
    expect(computeShootStatus(shootOf(op, errors, conditions))).toBe(want),
  );
  it.each(OR_WORSE)('OrWorse: %s, %s -> %s', (a, b, want) => {
    expect(computeShootStatus(shootOf(succeeded, 0, [CONDITION_OF[a], CONDITION_OF[b]]))).toBe(want);
    expect(computeShootStatus(shootOf(succeeded, 0, [CONDITION_OF[b], CONDITION_OF[a]]))).toBe(want);
  });
  it.each(CONDITION_STATUS)('ConditionStatusToShootStatus: %s -> %s', (status, want) =>
    expect(computeShootStatus(shootOf(succeeded, 0, [status]))).toBe(want),
  );
  it.each(COMPUTE_CONDITION_STATUS)('ComputeConditionStatus: %s -> %s', (_n, conditions, want) =>
    expect(computeShootStatus(shootOf(succeeded, 0, conditions))).toBe(want),
  );
});

// ---------------------------------------------------------------------------------------------------------
// Seeds: pkg/utils/kubernetes/health/seed_test.go
//
// Our assessSeed takes no identity: the controller cannot know gardenlet's (its id is the container's and changes
// with every restart). It reports status.gardener.version, and the gate compares that with the target version
// (SeedView.ready in src/engine/targets/gardenlet.ts). So a row that fails in Gardener only on the identity is ready for us
// ('identity'), and one that fails only on the version is ready for us with a version that is not the target ('version').

interface Identity {
  id?: string;
  name?: string;
  version?: string;
}
interface SeedInput {
  generation?: number;
  observedGeneration?: number;
  /** status.gardener; absent: none */
  gardener?: Identity;
  conditions?: [string, Cond][];
}
type Outcome = 'ok' | 'error';
interface SeedRow {
  name: string;
  seed: SeedInput;
  /** what Gardener compares the seed with (gardenlet's identity; for migration, the source seed's status.gardener) */
  identity: Identity | null;
  gardener: Outcome;
  /** our answer where it differs on purpose */
  ours?: Outcome;
  differs?: 'identity' | 'version';
}

const BOTH_TRUE: [string, Cond][] = [
  ['GardenletReady', 'True'],
  ['SeedSystemComponentsHealthy', 'True'],
];

function seedOf(input: SeedInput): Seed {
  return {
    metadata: { name: 'seed', ...(input.generation !== undefined ? { generation: input.generation } : {}) },
    spec: { provider: { type: 'local', region: 'r' } },
    status: {
      ...(input.gardener ? { gardener: input.gardener } : {}),
      ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
      ...(input.conditions ? { conditions: input.conditions.map(([type, status]) => ({ type, status })) } : {}),
    },
  } as Seed;
}

// follows seed_test.go CheckSeed
const CHECK_SEED: SeedRow[] = [
  { name: 'healthy', seed: { gardener: {}, conditions: BOTH_TRUE }, identity: {}, gardener: 'ok' },
  { name: 'healthy with a non-default identity', seed: { gardener: { id: 'thegardener' }, conditions: BOTH_TRUE }, identity: { id: 'thegardener' }, gardener: 'ok' },
  { name: 'GardenletReady False', seed: { conditions: [['GardenletReady', 'False'], ['SeedSystemComponentsHealthy', 'True']] }, identity: {}, gardener: 'error' },
  { name: 'SeedSystemComponentsHealthy False', seed: { conditions: [['GardenletReady', 'True'], ['SeedSystemComponentsHealthy', 'False']] }, identity: {}, gardener: 'error' },
  { name: 'no conditions at all', seed: {}, identity: {}, gardener: 'error' },
  // differs: the id in status.gardener is gardenlet's container id, which the controller cannot know
  { name: 'identity does not match', seed: { gardener: { id: 'thegardener' }, conditions: BOTH_TRUE }, identity: {}, gardener: 'error', ours: 'ok', differs: 'identity' },
  { name: 'latest generation not observed', seed: { generation: 1, conditions: BOTH_TRUE }, identity: {}, gardener: 'error' },
];

// follows seed_test.go CheckSeedIsUpToDate; every seed also carries both required conditions True, as assessSeed
// checks them at the same time (Gardener's seeds here have none: that is the CheckRequiredSeedConditions table)
const CHECK_SEED_IS_UP_TO_DATE: SeedRow[] = [
  { name: 'empty identity', seed: { gardener: {}, conditions: BOTH_TRUE }, identity: {}, gardener: 'ok' },
  {
    name: 'matching identity',
    seed: { gardener: { id: 'test-gardener', name: 'gardener', version: '1.80.0' }, conditions: BOTH_TRUE },
    identity: { id: 'test-gardener', name: 'gardener', version: '1.80.0' },
    gardener: 'ok',
  },
  { name: 'generation observed', seed: { generation: 5, observedGeneration: 5, gardener: {}, conditions: BOTH_TRUE }, identity: {}, gardener: 'ok' },
  // differs: only the id differs, and the controller cannot know gardenlet's id
  {
    name: 'id does not match',
    seed: { gardener: { id: 'old-gardener', version: '1.80.0' }, conditions: BOTH_TRUE },
    identity: { id: 'new-gardener', version: '1.80.0' },
    gardener: 'error',
    ours: 'ok',
    differs: 'identity',
  },
  // differs: assessSeed reports the version; the gate compares it with the target
  { name: 'version does not match', seed: { gardener: { version: '1.80.0' }, conditions: BOTH_TRUE }, identity: { version: '1.81.0' }, gardener: 'error', ours: 'ok', differs: 'version' },
  { name: 'observed generation behind', seed: { generation: 10, observedGeneration: 9, gardener: {}, conditions: BOTH_TRUE }, identity: {}, gardener: 'error' },
  { name: 'observed generation zero', seed: { generation: 1, observedGeneration: 0, gardener: {}, conditions: BOTH_TRUE }, identity: {}, gardener: 'error' },
  { name: 'no status.gardener', seed: { conditions: BOTH_TRUE }, identity: {}, gardener: 'error' },
];

// follows seed_test.go CheckRequiredSeedConditions: [case, conditions (undefined: none), missing one (Gardener's error), failing count];
// every seed also carries an empty status.gardener, which this check of Gardener's does not look at and assessSeed does
const CHECK_REQUIRED_SEED_CONDITIONS: [string, [string, Cond][] | undefined, boolean, number][] = [
  ['both True', BOTH_TRUE, false, 0],
  ['GardenletReady False', [['GardenletReady', 'False'], ['SeedSystemComponentsHealthy', 'True']], false, 1],
  ['SeedSystemComponentsHealthy False', [['GardenletReady', 'True'], ['SeedSystemComponentsHealthy', 'False']], false, 1],
  ['both False', [['GardenletReady', 'False'], ['SeedSystemComponentsHealthy', 'False']], false, 2],
  ['GardenletReady Unknown', [['GardenletReady', 'Unknown'], ['SeedSystemComponentsHealthy', 'True']], false, 1],
  ['SeedSystemComponentsHealthy Progressing', [['GardenletReady', 'True'], ['SeedSystemComponentsHealthy', 'Progressing']], false, 1],
  ['GardenletReady missing', [['SeedSystemComponentsHealthy', 'True']], true, 0],
  ['SeedSystemComponentsHealthy missing', [['GardenletReady', 'True']], true, 0],
  ['empty conditions', [], true, 0],
  ['no conditions', undefined, true, 0],
];

// follows seed_test.go CheckSeedForMigration (gardener-controller-manager's check of a migration's destination seed,
// which compares versions only, with the source seed's status.gardener)
const CHECK_SEED_FOR_MIGRATION: SeedRow[] = [
  { name: 'no status.gardener, no source identity', seed: {}, identity: null, gardener: 'error' },
  { name: 'no source identity', seed: { gardener: { version: '1.12.8' } }, identity: null, gardener: 'error' },
  { name: 'matching version', seed: { gardener: { version: '1.12.8' }, conditions: BOTH_TRUE }, identity: { version: '1.12.8' }, gardener: 'ok' },
  // differs: assessSeed reports the version; the gate compares it with the target
  { name: 'version does not match', seed: { gardener: { version: '1.12.8' }, conditions: BOTH_TRUE }, identity: { version: '1.13.8' }, gardener: 'error', ours: 'ok', differs: 'version' },
  { name: 'GardenletReady False', seed: { gardener: { version: '1.12.8' }, conditions: [['GardenletReady', 'False'], ['SeedSystemComponentsHealthy', 'True']] }, identity: { version: '1.12.8' }, gardener: 'error' },
  { name: 'SeedSystemComponentsHealthy False', seed: { gardener: { version: '1.12.8' }, conditions: [['GardenletReady', 'True'], ['SeedSystemComponentsHealthy', 'False']] }, identity: { version: '1.12.8' }, gardener: 'error' },
  { name: 'both False', seed: { gardener: { version: '1.12.8' }, conditions: [['GardenletReady', 'False'], ['SeedSystemComponentsHealthy', 'False']] }, identity: { version: '1.12.8' }, gardener: 'error' },
];

const SEED_TABLES: [string, SeedRow[]][] = [
  ['CheckSeed', CHECK_SEED],
  ['CheckSeedIsUpToDate', CHECK_SEED_IS_UP_TO_DATE],
  ['CheckSeedForMigration', CHECK_SEED_FOR_MIGRATION],
];

describe('seed_test.go', () => {
  describe.each(SEED_TABLES)('%s', (_table, rows) => {
    it.each(rows.map((r) => [r.name, r] as const))('%s', (_n, row) => {
      const health = assessSeed(seedOf(row.seed));
      expect(health.ready).toBe((row.ours ?? row.gardener) === 'ok');
      expect(health.version).toBe(row.seed.gardener?.version);
      // where only the version differs, the gate's own comparison refuses what Gardener refuses
      if (row.differs === 'version') expect(health.version).not.toBe(row.identity?.version);
    });
  });

  it('marks every deliberate difference, and only those', () => {
    for (const [, rows] of SEED_TABLES) {
      for (const row of rows) {
        expect({ name: row.name, differs: row.ours !== undefined && row.ours !== row.gardener }).toEqual({ name: row.name, differs: row.differs !== undefined });
      }
    }
  });

  describe('CheckRequiredSeedConditions', () => {
    it.each(CHECK_REQUIRED_SEED_CONDITIONS)('%s', (_n, conditions, missing, failing) => {
      const health = assessSeed(seedOf({ gardener: {}, ...(conditions ? { conditions } : {}) }));
      expect(health.ready).toBe(!missing && failing === 0);
      const about = health.reasons.filter((r) => /^(GardenletReady|SeedSystemComponentsHealthy) /.test(r));
      if (missing) expect(about.some((r) => r.endsWith(' is missing'))).toBe(true);
      else expect(about).toHaveLength(failing);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Error codes: the "Error Codes" table of docs/usage/shoot/shoot_status.md, whose column "User error" is Gardener's
// only classification of blame; its eleven codes are the ErrorCode constants of pkg/apis/core/v1beta1/types_common.go.
// (HasNonRetryableErrorCode in pkg/api/core/v1beta1/helper/errors.go classifies retries, not blame: not this table.)

// follows docs/usage/shoot/shoot_status.md Error Codes: [code, user error]
const ERROR_CODES: [string, boolean][] = [
  ['ERR_INFRA_UNAUTHENTICATED', true],
  ['ERR_INFRA_UNAUTHORIZED', true],
  ['ERR_INFRA_QUOTA_EXCEEDED', true],
  ['ERR_INFRA_RATE_LIMITS_EXCEEDED', false],
  ['ERR_INFRA_DEPENDENCIES', true],
  ['ERR_RETRYABLE_INFRA_DEPENDENCIES', false],
  ['ERR_INFRA_RESOURCES_DEPLETED', true],
  ['ERR_CLEANUP_CLUSTER_RESOURCES', true],
  ['ERR_CONFIGURATION_PROBLEM', true],
  ['ERR_RETRYABLE_CONFIGURATION_PROBLEM', true],
  ['ERR_PROBLEMATIC_WEBHOOK', true],
];

describe('shoot_status.md error codes', () => {
  const userError = (code: string): boolean => USER_ERROR_CODES.has(code);
  const failed = (): Shoot => shootOf({ type: 'Reconcile', state: 'Error' }, 0, ['False']);

  it.each(ERROR_CODES)('%s: user error %s', (code, user) => expect(userError(code)).toBe(user));

  it('lists no code that Gardener does not have', () => {
    const known = new Set(ERROR_CODES.map(([code]) => code));
    expect([...USER_ERROR_CODES].filter((c) => !known.has(c))).toEqual([]);
  });

  it.each(ERROR_CODES)('a failure whose one lastError carries %s is excused: %s', (code, user) => {
    const s = failed();
    s.status!.lastErrors = [{ description: 'task failed', codes: [code] }];
    expect(failureExcused(s, userError)).toBe(user);
  });

  it.each(ERROR_CODES)('a failure without lastErrors whose False condition carries %s is excused: %s', (code, user) => {
    const s = failed();
    s.status!.conditions = [{ type: 'ControlPlaneHealthy', status: 'False', codes: [code] }];
    expect(failureExcused(s, userError)).toBe(user);
  });
});
