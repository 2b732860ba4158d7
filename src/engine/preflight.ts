// Pre-flight checks of a gardenlet rollout, purely: what would make it fail or be undone seed after seed, found
// before anything is touched. A rollout that fails one waits in Pending (condition Waiting, the check's reason) and
// starts by itself once the cause is gone; nothing is half done.
import type { CanaryRolloutSpec, Plan } from '../api/v1alpha1.js';
import { GARDENER_INFO, LABEL_GARDENLET_AUTO_UPDATE } from '../gardener/api.js';

/** Why a rollout cannot start yet: a stable reason (condition Waiting) and what to do about it. */
export interface Blocker {
  reason: string;
  message: string;
}

/** gardener-apiserver's version as gardener-operator publishes it (ConfigMap gardener-system-public/gardener-info). */
export type GardenerInfo = { version: string } | { problem: string };

export interface PreflightObservation {
  /** Gardenlets (by name, which is their seed's) that carry gardener-operator's auto-update label set to "true". */
  gardenletAutoUpdate?: ReadonlySet<string> | undefined;
  /** Absent where it was not read (extension targets, unit tests of other parts): the version check is skipped. */
  gardenerInfo?: GardenerInfo | undefined;
}

interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

export function parseSemVer(v: string): SemVer | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] } : undefined;
}

/** Semantic version order (semver.org §11): a pre-release sorts before its release. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] - b[k];
  if (!a.pre.length || !b.pre.length) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Gardener's version skew policy as gardenlet enforces it at start-up (pkg/gardenlet/bootstrappers/verify_version.go,
 * VerifyGardenerVersion): gardenlet refuses to start when it is newer than gardener-apiserver, or when two minor
 * versions added to it are still below gardener-apiserver's minor. A rollout to such a version could only fail, seed
 * after seed. undefined: the version may run.
 */
export function versionSkewProblem(target: string, apiServer: string): string | undefined {
  const t = parseSemVer(target);
  const a = parseSemVer(apiServer);
  if (!a) return `gardener-apiserver's version ${JSON.stringify(apiServer)} in ConfigMap ${GARDENER_INFO.namespace}/${GARDENER_INFO.name} is not a semantic version`;
  if (!t) return undefined; // the schema admits only semantic versions
  if (compareSemVer(t, a) > 0) {
    return `gardenlet ${target} is newer than gardener-apiserver ${apiServer}: gardenlet refuses to start then (Gardener's version skew policy); upgrade Gardener's control plane first`;
  }
  if (t.major < a.major || (t.major === a.major && t.minor + 2 < a.minor)) {
    return `gardenlet ${target} is more than two minor versions older than gardener-apiserver ${apiServer}: gardenlet refuses to start then (Gardener's version skew policy); roll out v${a.major}.${Math.max(a.minor - 2, 0)}.0 or newer`;
  }
  return undefined;
}

/** The checks of a gardenlet rollout over `plan`, in the order an operator fixes them; undefined: it may start. */
export function gardenletPreflight(spec: CanaryRolloutSpec, plan: Plan, obs: PreflightObservation): Blocker | undefined {
  const target = spec.target.gardenlet;
  if (!target) return undefined;
  // gardener-operator would write its own chart over the rollout's, on every labelled Gardenlet at once. Taking the
  // label off for the rollout and putting it back at the end would not help: the operator then rolls every seed to its
  // own version again. The operator decides: remove the label (and add it back only once gardener-operator runs the
  // rolled-out version).
  const planned = plan.waves.flatMap((w) => w.seeds.map((s) => s.name));
  const labelled = planned.filter((n) => obs.gardenletAutoUpdate?.has(n)).sort();
  if (labelled.length) {
    return {
      reason: 'GardenletAutoUpdate',
      message:
        `${labelled.length} Gardenlets in scope carry ${LABEL_GARDENLET_AUTO_UPDATE}=true (${labelled.slice(0, 5).join(', ')}${labelled.length > 5 ? ', ...' : ''}): ` +
        `gardener-operator would set them back to its own gardenlet chart on its next Garden reconcile. Remove the label ` +
        `(kubectl -n garden label gardenlet NAME ${LABEL_GARDENLET_AUTO_UPDATE}-) and the rollout starts`,
    };
  }
  const info = obs.gardenerInfo;
  if (!info) return undefined;
  if ('problem' in info) {
    return { reason: 'GardenerVersionUnknown', message: `cannot check the version skew against gardener-apiserver: ${info.problem}` };
  }
  const skew = versionSkewProblem(target.version, info.version);
  return skew ? { reason: 'VersionSkew', message: skew } : undefined;
}
