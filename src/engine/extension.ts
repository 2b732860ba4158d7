// Extension targets, purely: which strategy a rollout takes and why, what each seed runs, and when a revert or a
// hand-back has landed. Everything here reads observed ControllerRegistrations, ControllerDeployments and
// ControllerInstallations (reference/gardener.md §3) and nothing else.
//
// Gardener facts this rests on:
// - a registration has at most one deploymentRef and every installation follows it; gardenlet always reads the
//   ControllerDeployment by name, so a change reaches every seed within minutes;
// - a registration that controls any resource primarily may not carry a seedSelector (API validation);
// - gardener-controller-manager writes the deployment's resourceVersion into each installation's
//   spec.deploymentRef, and gardenlet reports Valid/Installed/Healthy/Progressing on it.
import { createHash } from 'node:crypto';
import type { Target } from '../api/target.js';
import { type CanaryRolloutSpec, type ExtensionStatus } from '../api/v1alpha1.js';
import { ANNOTATION_GRM_IGNORE, ANNOTATION_GRM_ORIGIN, LABEL_GRM_MANAGED_BY, type ControllerDeployment, type ControllerInstallation, type ControllerRegistration } from '../gardener/api.js';

export type ExtensionTarget = NonNullable<Target['extension']>;

/** spec.target.extension of a rollout known to be an extension's (the schema admits exactly one target). */
export function extensionOf(spec: CanaryRolloutSpec): ExtensionTarget {
  const ext = spec.target.extension;
  if (!ext) throw new Error('spec.target.extension is not set: not an extension rollout');
  return ext;
}

export interface ExtensionObservation {
  deployments: ReadonlyMap<string, ControllerDeployment>;
  registrations: readonly ControllerRegistration[];
  /** Installations by seed name. */
  installationsBySeed: ReadonlyMap<string, ControllerInstallation[]>;
}

export function observeExtensions(
  registrations: readonly ControllerRegistration[],
  deployments: readonly ControllerDeployment[],
  installations: readonly ControllerInstallation[],
): ExtensionObservation {
  const installationsBySeed = new Map<string, ControllerInstallation[]>();
  for (const ci of installations) {
    const seed = ci.spec.seedRef?.name;
    if (!seed) continue;
    let list = installationsBySeed.get(seed);
    if (!list) installationsBySeed.set(seed, (list = []));
    list.push(ci);
  }
  return { deployments: new Map(deployments.map((d) => [d.metadata.name, d])), registrations, installationsBySeed };
}

/** Largest previous helm content recorded for RevertAll (a legacy rawChart can be big; the status must stay small). */
export const MAX_PREVIOUS_BYTES = 256 * 1024;

/** Seed label that releases a seed to the temporary registration (SeedSelector strategy); durable via seedConfig. */
export function releaseLabel(controllerDeployment: string): string {
  const name = controllerDeployment.length <= 63 ? controllerDeployment : `${controllerDeployment.slice(0, 46)}-${createHash('sha256').update(controllerDeployment).digest('hex').slice(0, 16)}`;
  return `release.canary.gardener.cloud/${name}`;
}
export const RELEASE_VALUE = 'true';

export const temporaryName = (name: string): string => `${name}-canary`;

/** The helm content the rollout writes: the target chart and values (values replace the old ones). */
export function targetHelm(spec: CanaryRolloutSpec): Record<string, unknown> {
  const ext = extensionOf(spec);
  return { ociRepository: { ...ext.helm.ociRepository }, ...(ext.helm.values ? { values: ext.helm.values } : {}) };
}

/** Deterministic JSON: keys sorted, undefined and null dropped (a merge patch cannot tell them apart either). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined && x !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export const sameHelm = (a: unknown, b: unknown): boolean => canonical(a ?? {}) === canonical(b ?? {});

export function referencingRegistrations(obs: ExtensionObservation, controllerDeployment: string): ControllerRegistration[] {
  return obs.registrations
    .filter((r) => (r.spec.deployment?.deploymentRefs ?? []).some((d) => d.name === controllerDeployment))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

const isPrimary = (r: ControllerRegistration): boolean => (r.spec.resources ?? []).some((x) => x.primary !== false);

export type StrategyChoice = { ok: true; status: ExtensionStatus } | { ok: false; code: string; reason: string };

/** Which strategy the rollout takes, and why; or why it cannot start yet. */
export function chooseStrategy(spec: CanaryRolloutSpec, obs: ExtensionObservation | undefined): StrategyChoice {
  const ext = extensionOf(spec);
  const cd = obs?.deployments.get(ext.controllerDeployment);
  if (!obs || !cd) return { ok: false, code: 'ControllerDeploymentNotFound', reason: `ControllerDeployment ${ext.controllerDeployment} not found` };
  const origin = managedBy(cd);
  if (origin && !ext.managedResourceIgnored) {
    return {
      ok: false,
      code: 'ManagedByResourceManager',
      reason:
        `ControllerDeployment ${ext.controllerDeployment} is managed by gardener-resource-manager (${origin}), which would revert every change: ` +
        `roll the new version out through its source (with gardener-operator, the Extension resource), or annotate that ManagedResource ` +
        `with ${ANNOTATION_GRM_IGNORE}=true and set spec.target.extension.managedResourceIgnored`,
    };
  }
  const regs = referencingRegistrations(obs, ext.controllerDeployment);
  const [reg] = regs;
  if (!reg) return { ok: false, code: 'NotRegistered', reason: `no ControllerRegistration references ControllerDeployment ${ext.controllerDeployment}: it is deployed nowhere, there is nothing to roll out in waves` };
  const names = regs.map((r) => r.metadata.name);
  const primary = regs.filter(isPrimary).map((r) => r.metadata.name);
  const previous = { ...(cd.metadata.resourceVersion ? { resourceVersion: cd.metadata.resourceVersion } : {}), helm: (cd.helm ?? {}) as Record<string, unknown> };
  if (spec.onHalt.rollback === 'RevertAll' && canonical(previous.helm).length > MAX_PREVIOUS_BYTES) {
    return { ok: false, code: 'PreviousContentTooLarge', reason: `the current content of ControllerDeployment ${ext.controllerDeployment} is larger than ${MAX_PREVIOUS_BYTES} bytes (a legacy rawChart?) and cannot be recorded for RevertAll: use rollback Freeze or move it to an OCI chart` };
  }
  const base = { registrations: names, previous };
  // on the operator's word, gardener-resource-manager ignores the deployment's ManagedResource for now
  const managed = origin ? `; managed by ${origin}, ignored on the operator's word (spec.target.extension.managedResourceIgnored)` : '';
  if (ext.strategy === 'SeedSelector' || (ext.strategy === 'Auto' && !primary.length && regs.length === 1)) {
    if (primary.length) {
      return { ok: false, code: 'StrategyNotPossible', reason: `strategy SeedSelector needs non-primary registrations, but ${primary.join(', ')} controls resources primarily and Gardener forbids a seedSelector on it: use ReconcileGate` };
    }
    if (regs.length > 1) return { ok: false, code: 'StrategyNotPossible', reason: `strategy SeedSelector handles one registration per ControllerDeployment, found ${names.join(', ')}: use ReconcileGate` };
    return {
      ok: true,
      status: {
        strategy: 'SeedSelector',
        reason: (ext.strategy === 'Auto' ? `registration ${reg.metadata.name} is non-primary, so a temporary registration with a seedSelector can carry the new version to released seeds only` : 'requested') + managed,
        ...base,
        temporary: { registration: temporaryName(reg.metadata.name), deployment: temporaryName(ext.controllerDeployment), seedLabel: releaseLabel(ext.controllerDeployment) },
      },
    };
  }
  const why =
    ext.strategy === 'ReconcileGate'
      ? 'requested'
      : primary.length
        ? `registration ${primary.join(', ')} controls resources primarily (Gardener allows no seedSelector there), so the new version goes live everywhere and shoot reconciles are gated per seed`
        : `${names.length} registrations reference the deployment, so the new version goes live everywhere and shoot reconciles are gated per seed`;
  return { ok: true, status: { strategy: 'ReconcileGate', reason: why + managed, ...base } };
}

/** Who manages the deployment, if gardener-resource-manager does: `ManagedResource <origin>` or its managed-by label. */
export function managedBy(cd: ControllerDeployment): string | undefined {
  const origin = cd.metadata.annotations?.[ANNOTATION_GRM_ORIGIN];
  if (origin) return `ManagedResource ${origin}`;
  const by = cd.metadata.labels?.[LABEL_GRM_MANAGED_BY];
  return by ? `${LABEL_GRM_MANAGED_BY}=${by}` : undefined;
}

function cond(ci: ControllerInstallation, type: string) {
  return ci.status?.conditions?.find((c) => c.type === type);
}

/** Gardener's healthy installation: Valid, Installed and Healthy True, Progressing False. */
export function installationHealthy(ci: ControllerInstallation): boolean {
  return ['Valid', 'Installed', 'Healthy'].every((t) => cond(ci, t)?.status === 'True') && cond(ci, 'Progressing')?.status !== 'True';
}

/** Installed at the deployment's current revision. */
function atRevision(ci: ControllerInstallation, cd: ControllerDeployment | undefined): boolean {
  return !!cd && ci.spec.deploymentRef?.name === cd.metadata.name && ci.spec.deploymentRef.resourceVersion === cd.metadata.resourceVersion;
}

export interface SeedRun {
  /** The seed runs the new version: its installations are healthy at the new revision (vacuously true without any). */
  ready: boolean;
  /** Every installation of the seed is at the new revision (whatever its conditions say). */
  atRevision: boolean;
  /** When the new revision was installed (latest Installed condition change); shoots reconciled after it are exposed. */
  installedAt?: string;
  /** Why it is not ready, for the status. */
  reason?: string;
  /**
   * An installation at the new revision reports a failure (Valid or Healthy False while not Progressing): unlike a
   * roll-out in progress, this is evidence against the version.
   */
  failed?: boolean;
}

/**
 * When conditions can be trusted for the new revision. gardenlet's controllerinstallation reconciler leaves
 * Installed as it is when the revision changes (it only initialises an Unknown one), and its care controller
 * (pkg/gardenlet/controller/controllerinstallation/care/reconciler.go) rewrites the conditions every sync period,
 * moving lastUpdateTime only when a reason or message changes (pkg/api/core/v1beta1/helper/condition_builder.go).
 * So healthy conditions at the new revision are evidence for it only if one of them changed after the revision
 * arrived, or once a whole care period has passed since (the care loop then looked at the new revision).
 * `revisionSince`: when the rollout first saw the seed's installations at the new revision (persisted); absent when
 * the caller established readiness once already (no settle given). Only ReconcileGate changes a revision in place.
 */
export interface Settle {
  now: Date;
  carePeriodMs: number;
  /** When the rollout first saw the seed's installations at the new revision (persisted in its seed state). */
  revisionSince: string | undefined;
  /** When the new content went live (the rollout's start): an installation created after it never described the old. */
  contentSince: string | undefined;
}

const time = (t: string | undefined): number => (t ? Date.parse(t) || 0 : 0);

function conditionsFresh(ci: ControllerInstallation, settle: Settle | undefined): boolean {
  if (!settle) return true;
  if (settle.contentSince && time(ci.metadata.creationTimestamp) > time(settle.contentSince)) return true;
  const since = settle.revisionSince ? time(settle.revisionSince) : settle.now.getTime();
  if (settle.now.getTime() - since >= settle.carePeriodMs) return true;
  return ['Installed', 'Healthy', 'Progressing'].some((t) => Math.max(time(cond(ci, t)?.lastUpdateTime), time(cond(ci, t)?.lastTransitionTime)) > since);
}

/** What a seed runs, for the extension strategies. */
export function seedRun(spec: CanaryRolloutSpec, status: ExtensionStatus, obs: ExtensionObservation | undefined, seed: string, settleFor?: Settle): SeedRun {
  // SeedSelector's temporary installations are new objects for the one revision of the temporary deployment
  const settle = status.strategy === 'ReconcileGate' ? settleFor : undefined;
  if (!obs) return { ready: false, atRevision: false, reason: 'extension objects not observed' };
  const cis = obs.installationsBySeed.get(seed) ?? [];
  let relevant: ControllerInstallation[];
  let cd: ControllerDeployment | undefined;
  if (status.strategy === 'ReconcileGate') {
    cd = obs.deployments.get(extensionOf(spec).controllerDeployment);
    if (!cd || !sameHelm(cd.helm, targetHelm(spec))) return { ready: false, atRevision: false, reason: 'the ControllerDeployment does not carry the new content' };
    const regs = new Set(status.registrations);
    relevant = cis.filter((ci) => regs.has(ci.spec.registrationRef.name));
  } else {
    const tmp = status.temporary;
    if (!tmp) return { ready: false, atRevision: false, reason: 'no temporary registration recorded for strategy SeedSelector' };
    cd = obs.deployments.get(tmp.deployment);
    const originals = new Set(status.registrations);
    if (cis.some((ci) => originals.has(ci.spec.registrationRef.name))) return { ready: false, atRevision: false, reason: 'the original installation is still there' };
    relevant = cis.filter((ci) => ci.spec.registrationRef.name === tmp.registration);
  }
  let installedAt: string | undefined;
  const notAt = relevant.find((ci) => !atRevision(ci, cd));
  if (notAt) return { ready: false, atRevision: false, reason: `installation ${notAt.metadata.name} is not at the new revision yet` };
  for (const ci of relevant) {
    if (!installationHealthy(ci)) {
      const failed = cond(ci, 'Progressing')?.status !== 'True' && (cond(ci, 'Valid')?.status === 'False' || cond(ci, 'Healthy')?.status === 'False');
      // a failure reported before the care loop looked at the new revision may be the old revision's
      const fresh = conditionsFresh(ci, settle);
      return { ready: false, atRevision: true, reason: `installation ${ci.metadata.name} is not healthy`, ...(failed && fresh ? { failed } : {}) };
    }
    if (!conditionsFresh(ci, settle)) {
      return { ready: false, atRevision: true, reason: `installation ${ci.metadata.name} reached the new revision; waiting for gardenlet's care loop to report on it` };
    }
    const t = cond(ci, 'Installed')?.lastTransitionTime ?? cond(ci, 'Installed')?.lastUpdateTime;
    if (t && (!installedAt || Date.parse(t) > Date.parse(installedAt))) installedAt = t;
  }
  return { ready: true, atRevision: true, ...(installedAt ? { installedAt } : {}) };
}

/**
 * When a released seed's shoots start running the new version: the later of its release and the installation of the
 * new revision (a shoot reconciled after that point has run it).
 */
export function exposedSince(releasedAt: string, run: SeedRun): string {
  return run.installedAt && Date.parse(run.installedAt) > Date.parse(releasedAt) ? run.installedAt : releasedAt;
}

/** RevertAll has landed: the previous content is back and every installation runs it (or the temporary registration is gone). */
export function reverted(spec: CanaryRolloutSpec, status: ExtensionStatus, obs: ExtensionObservation | undefined): boolean {
  if (!obs) return false;
  if (status.strategy === 'SeedSelector') return !temporaryInstallations(status, obs);
  const cd = obs.deployments.get(extensionOf(spec).controllerDeployment);
  if (!cd || !sameHelm(cd.helm, status.previous?.helm)) return false;
  const regs = new Set(status.registrations);
  for (const cis of obs.installationsBySeed.values()) for (const ci of cis) if (regs.has(ci.spec.registrationRef.name) && !atRevision(ci, cd)) return false;
  return true;
}

/** SeedSelector completion has landed: the original deployment carries the new content and no seed runs the temporary one. */
export function handedBack(spec: CanaryRolloutSpec, status: ExtensionStatus, obs: ExtensionObservation | undefined): boolean {
  if (!obs || status.strategy !== 'SeedSelector') return true;
  const cd = obs.deployments.get(extensionOf(spec).controllerDeployment);
  return !!cd && sameHelm(cd.helm, targetHelm(spec)) && !temporaryInstallations(status, obs);
}

function temporaryInstallations(status: ExtensionStatus, obs: ExtensionObservation): number {
  let n = 0;
  for (const cis of obs.installationsBySeed.values()) for (const ci of cis) if (ci.spec.registrationRef.name === status.temporary?.registration) n++;
  return n;
}
