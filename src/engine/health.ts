// Health and exposure of shoots and seeds, pure functions of observed objects.
// Shoot health follows Gardener's ComputeShootStatus (pkg/utils/gardener/shoot_status.go, v1.150.0), the logic
// behind the shoot.gardener.cloud/status label; computing it from the status avoids the label controller's lag.
import type { Seed, Shoot } from '../gardener/api.js';
import type { HealthGate } from '../api/health-gate.js';

export type ShootStatus = 'healthy' | 'progressing' | 'unknown' | 'unhealthy';
const RANK: Record<ShootStatus, number> = { unhealthy: 0, unknown: 1, progressing: 2, healthy: 3 };
const worse = (a: ShootStatus, b: ShootStatus): ShootStatus => (RANK[a] <= RANK[b] ? a : b);

function conditionToStatus(status: string): ShootStatus {
  if (status === 'True') return 'healthy';
  if (status === 'Progressing') return 'progressing';
  if (status === 'Unknown') return 'unknown';
  return 'unhealthy';
}

/** Gardener's ComputeShootStatus over lastOperation, lastErrors and conditions. */
export function computeShootStatus(shoot: Shoot): ShootStatus {
  const op = shoot.status?.lastOperation;
  const errors = shoot.status?.lastErrors ?? [];
  if (!op) return 'healthy'; // created, not yet reconciled
  if ((op.type === 'Create' && op.state !== 'Succeeded') || op.type === 'Delete') return errors.length === 0 ? 'healthy' : 'unhealthy';
  let status: ShootStatus = 'healthy';
  for (const c of shoot.status?.conditions ?? []) {
    if (c.status === 'True') continue; // healthy never makes it worse
    status = worse(status, conditionToStatus(c.status));
    if (status === 'unhealthy') break; // nothing is worse
  }
  if (op.state === 'Processing') return worse(status, errors.length === 0 ? 'healthy' : 'unhealthy');
  return worse(status, op.state === 'Succeeded' ? 'healthy' : 'unhealthy');
}

/** The shoot is unhealthy now and was not before (or is new): a change that may cross a health gate's threshold. */
export function turnedUnhealthy(shoot: Shoot, before: Shoot | undefined): boolean {
  return computeShootStatus(shoot) === 'unhealthy' && (before === undefined || computeShootStatus(before) !== 'unhealthy');
}

/**
 * Error codes that Gardener classifies as user errors ("User error: true" in docs/usage/shoot/shoot_status.md):
 * the cause lies with the shoot's owner or infrastructure, not with a new gardenlet or extension version. The
 * classification exists only in that documentation; it is not HasNonRetryableErrorCode (pkg/api/core/v1beta1/helper/
 * errors.go), a different set (gardenlet stops retrying on it) that holds ERR_INFRA_RATE_LIMITS_EXCEEDED and lacks
 * three of these.
 */
export const USER_ERROR_CODES: ReadonlySet<string> = new Set([
  'ERR_INFRA_UNAUTHENTICATED',
  'ERR_INFRA_UNAUTHORIZED',
  'ERR_INFRA_QUOTA_EXCEEDED',
  'ERR_INFRA_DEPENDENCIES',
  'ERR_INFRA_RESOURCES_DEPLETED',
  'ERR_CLEANUP_CLUSTER_RESOURCES',
  'ERR_CONFIGURATION_PROBLEM',
  'ERR_RETRYABLE_CONFIGURATION_PROBLEM',
  'ERR_PROBLEMATIC_WEBHOOK',
]);

/**
 * A failure is the owner's (not the version's) only when every piece of evidence for it carries an excluded code:
 * every lastError, or, without lastErrors, every failing condition. One user-error code among other errors (e.g. a
 * quota error beside a failed control-plane task) explains only itself; the rest still counts.
 */
export function failureExcused(shoot: Shoot, excused: (code: string) => boolean): boolean {
  const errors = shoot.status?.lastErrors ?? [];
  const evidence = errors.length
    ? errors.map((e) => e.codes ?? [])
    : (shoot.status?.conditions ?? []).filter((c) => c.status !== 'True' && c.status !== 'Progressing').map((c) => c.codes ?? []);
  return evidence.length > 0 && evidence.every((codes) => codes.some(excused));
}

/**
 * Asleep as its owner wants it: hibernation requested and reached. A failed wake-up (hibernation off, still
 * hibernated) and a failed hibernation (on, not reached) are operations of the new version that failed: they count.
 * gardenlet sets status.hibernated when an operation succeeds (patchShootStatusOperationSuccess in
 * pkg/gardenlet/controller/shoot/shoot/reconciler.go).
 */
export function asleep(shoot: Shoot): boolean {
  return shoot.spec.hibernation?.enabled === true && shoot.status?.hibernated === true;
}

/**
 * What "has really run the new version" means for a target.
 * - gardenlet: status.gardener.version is the target (gardenlet writes it when it starts an operation) and that
 *   Create/Reconcile has finished, successfully or not: a failed reconcile by the new version is exactly the
 *   evidence the gate needs, so it counts.
 * - extension: a Create/Reconcile finished after the shoot's seed was released (gardenlet hands the shoot's
 *   extension resources to the extension controllers only during a reconcile).
 */
export type Exposure = { kind: 'gardenlet'; version: string } | { kind: 'extension'; releasedAt: string };

const FINISHED = new Set(['Succeeded', 'Error', 'Failed']);

/**
 * Operations that run the version under test. gardenlet runs every operation but Delete (a shoot that goes away is
 * excluded anyway), including Restore, Migrate and LiveMigrate; extensions reconcile their resources on Create,
 * Reconcile and Restore (a restore re-creates them on the destination seed).
 */
const RUNS: Record<Exposure['kind'], ReadonlySet<string>> = {
  gardenlet: new Set(['Create', 'Reconcile', 'Restore', 'Migrate', 'LiveMigrate']),
  extension: new Set(['Create', 'Reconcile', 'Restore']),
};

/**
 * gardenlet's shoot reconciler refuses to run on a seed that is not up to date or has failing required conditions
 * (checkSeed in pkg/gardenlet/controller/shoot/shoot/reconciler.go): it writes the new identity into
 * status.gardener and an Error with this description, but nothing of the new version ran. The seed check covers it.
 */
export const REFUSED_ON_SEED = 'Shoot cannot be reconciled on seed:';

// Identity: gardenlet's checkSeed compares the seed's whole status.gardener (id, name, version) with its own
// (health.CheckSeedIsUpToDate); the id is the container's (DetermineIdentity in pkg/utils/gardener/identity.go), so it
// changes with every gardenlet restart and the controller cannot know it. Exposure therefore compares versions, and
// the one case where identity decides (a reconcile refused on a seed not up to date) is recognised by its description.

/**
 * A failed reconcile that Gardener is retrying: Processing with the previous attempt's lastErrors kept (the
 * operation-start patch in pkg/gardenlet/controller/shoot/shoot/reconciler.go only drops the errors of the task it
 * restarts). ComputeShootStatus calls it unhealthy, so it is evidence, not "still running". For an extension the
 * failure must be younger than the release: a lastError's own lastUpdateTime says when it was seen.
 */
function failedAndRetrying(shoot: Shoot, exposure: Exposure): boolean {
  const op = shoot.status?.lastOperation;
  const errors = shoot.status?.lastErrors ?? [];
  if (op?.state !== 'Processing' || !RUNS[exposure.kind].has(op.type) || errors.length === 0) return false;
  if (exposure.kind === 'gardenlet') return shoot.status?.gardener?.version === exposure.version;
  const released = Date.parse(exposure.releasedAt);
  return errors.some((e) => e.lastUpdateTime !== undefined && Date.parse(e.lastUpdateTime) > released);
}

export function isExposed(shoot: Shoot, exposure: Exposure): boolean {
  const op = shoot.status?.lastOperation;
  if (failedAndRetrying(shoot, exposure)) return true;
  if (!op || !RUNS[exposure.kind].has(op.type) || !FINISHED.has(op.state)) return false;
  if (op.description?.startsWith(REFUSED_ON_SEED)) return false;
  if (exposure.kind === 'gardenlet') return shoot.status?.gardener?.version === exposure.version;
  return op.lastUpdateTime !== undefined && Date.parse(op.lastUpdateTime) > Date.parse(exposure.releasedAt);
}

export type ExclusionReason = 'hibernated' | 'userError' | 'baselineUnhealthy' | 'accepted' | 'deleting' | 'progressing' | 'unknown';

export type Verdict =
  | { kind: 'notExposed' }
  | { kind: 'excluded'; reason: ExclusionReason; status: ShootStatus }
  | { kind: 'counted'; healthy: boolean; status: ShootStatus };

export interface GatePolicy extends Pick<HealthGate, 'progressing' | 'unknown' | 'exclude'> {
  /** Whether an error code excuses a failure (user errors when excluded, and exclude.errorCodes). */
  excused(code: string): boolean;
}

/**
 * The gate with its target-dependent defaults resolved, once per evaluation: user errors are excluded by default for
 * gardenlet only.
 */
export function gatePolicy(gate: HealthGate, target: 'gardenlet' | 'extension'): GatePolicy {
  const userErrors = gate.exclude.userErrors ?? target === 'gardenlet';
  const extra = new Set(gate.exclude.errorCodes ?? []);
  return {
    progressing: gate.progressing,
    unknown: gate.unknown,
    exclude: { ...gate.exclude, userErrors },
    excused: (code) => (userErrors && USER_ERROR_CODES.has(code)) || extra.has(code),
  };
}

/** Shoots the gate leaves out of a failure count: the wave's baseline, and what an operator accepted by resuming. */
export interface KnownFailures {
  baseline: ReadonlySet<string>;
  accepted: ReadonlySet<string>;
}

export function shootKey(shoot: Shoot): string {
  return `${shoot.metadata.namespace ?? ''}/${shoot.metadata.name}`;
}

/**
 * How one shoot counts for its wave. Exclusions apply among exposed shoots only, so that
 * healthy + unhealthy + excluded = exposed.
 */
export function assessShoot(shoot: Shoot, exposure: Exposure, policy: GatePolicy, known: KnownFailures): Verdict {
  if (!isExposed(shoot, exposure)) return { kind: 'notExposed' };
  const status = computeShootStatus(shoot);
  if (shoot.metadata.deletionTimestamp) return { kind: 'excluded', reason: 'deleting', status };
  if (policy.exclude.hibernated && asleep(shoot)) return { kind: 'excluded', reason: 'hibernated', status };
  if (status === 'healthy') return { kind: 'counted', healthy: true, status };

  // progressing and unknown count as the policy says
  if (status === 'progressing' || status === 'unknown') {
    const as = status === 'progressing' ? policy.progressing : policy.unknown;
    if (as === 'Healthy') return { kind: 'counted', healthy: true, status };
    if (as === 'Excluded') return { kind: 'excluded', reason: status, status };
  }
  // a failure: accepted by the operator, there before the wave, or not ours to blame?
  const key = shootKey(shoot);
  if (known.accepted.has(key)) return { kind: 'excluded', reason: 'accepted', status };
  if (policy.exclude.baselineUnhealthy && known.baseline.has(key)) return { kind: 'excluded', reason: 'baselineUnhealthy', status };
  if (failureExcused(shoot, policy.excused)) {
    return { kind: 'excluded', reason: 'userError', status };
  }
  return { kind: 'counted', healthy: false, status };
}

export interface Tally {
  shoots: number;
  exposed: number;
  healthy: number;
  unhealthy: number;
  excluded: Record<ExclusionReason, number>;
}

export function emptyTally(): Tally {
  return { shoots: 0, exposed: 0, healthy: 0, unhealthy: 0, excluded: { hibernated: 0, userError: 0, baselineUnhealthy: 0, accepted: 0, deleting: 0, progressing: 0, unknown: 0 } };
}

export function addVerdict(t: Tally, v: Verdict): Tally {
  t.shoots++;
  if (v.kind === 'notExposed') return t;
  t.exposed++;
  if (v.kind === 'excluded') t.excluded[v.reason]++;
  else if (v.healthy) t.healthy++;
  else t.unhealthy++;
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Seeds

export interface SeedHealth {
  /** GardenletReady and SeedSystemComponentsHealthy True, status.gardener written, and the spec observed (observedGeneration current). */
  ready: boolean;
  /** status.gardener.version */
  version: string | undefined;
  reasons: string[];
}

/** Seed readiness as gardenlet itself requires it before reconciling shoots (reference/gardener.md §1, definition 3). */
export function assessSeed(seed: Seed): SeedHealth {
  const reasons: string[] = [];
  const conditions = seed.status?.conditions ?? [];
  for (const type of ['GardenletReady', 'SeedSystemComponentsHealthy']) {
    const c = conditions.find((x) => x.type === type);
    if (c?.status !== 'True') reasons.push(`${type} is ${c?.status ?? 'missing'}`);
  }
  // CheckSeedIsUpToDate (pkg/utils/kubernetes/health/seed.go) compares status.gardener with gardenlet's identity, which
  // is never nil: a seed without status.gardener is refused whatever that identity, so this part needs no identity.
  if (!seed.status?.gardener) reasons.push('status.gardener missing');
  const generation = seed.metadata.generation ?? 0;
  const observed = seed.status?.observedGeneration ?? 0;
  if (observed < generation) reasons.push(`observedGeneration ${observed} < generation ${generation}`);
  if (seed.metadata.deletionTimestamp) reasons.push('being deleted');
  return { ready: reasons.length === 0, version: seed.status?.gardener?.version, reasons };
}
