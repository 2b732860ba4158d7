// Converges the garden: applies the engine's effects (desired.ts: convergeEffects) idempotently. Every write is
// preceded by a look at the cache and skipped when the object already has the desired value, so the full list can
// be applied on every reconcile and only differences are sent. The list is in safety order and apply stops at the
// first error (the next reconcile applies it again).
// Marks are annotations (they survive gardenlet restarts) and labels (for `kubectl get seeds -l`; gardenlet resets
// Seed labels to its seedConfig at start-up, and the next reconcile puts them back).
// An emergency stop is only ever removed by the rollouts that set it: ANNOTATION_STOPPED_BY lists them (sorted,
// comma-separated), so rollouts whose seeds overlap (a gardenlet halt and an extension gate, say) each keep their
// hold, and the stop goes only when the last of them lets go. A stop without that annotation is an operator's.
import * as k8s from '@kubernetes/client-node';
import type { OCIRepository } from '../api/fields.js';
import { API_VERSION, KIND } from '../api/v1alpha1.js';
import { sameOCIRef } from '../engine/desired.js';
import type { Effect, ShootOperation } from '../engine/effects.js';
import { RELEASE_VALUE, sameHelm } from '../engine/extension.js';
import {
  ANNOTATION_EMERGENCY_STOP,
  ANNOTATION_GARDENER_OPERATION,
  type ControllerDeployment,
  type ControllerRegistration,
  type Gardenlet,
  type ManagedSeed,
  type Seed,
  Shoot,
} from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export const FIELD_MANAGER = 'canary-rollout-controller';
export const ANNOTATION_ROLLOUT = 'canary.gardener.cloud/rollout';

/**
 * Temporary registrations and deployments carry their rollout's name in this label; 'true' (written before
 * versions that named the owner) counts as the reader's own, as it did then. Objects without it are nobody's.
 */
function ownedBy(o: { metadata: { labels?: Record<string, string> | undefined } }, rollout: RolloutRef): boolean {
  const owner = o.metadata.labels?.[ANNOTATION_ROLLOUT];
  return owner === rollout.name || owner === 'true';
}
export const ANNOTATION_WAVE = 'canary.gardener.cloud/wave';
export const ANNOTATION_CANARY = 'canary.gardener.cloud/canary';
export const ANNOTATION_STOPPED_BY = 'canary.gardener.cloud/emergency-stop-by';
/** Labels of canary membership, for `kubectl get seeds -l canary.gardener.cloud/canary=true -L canary.gardener.cloud/wave`. */
export const LABEL_CANARY = 'canary.gardener.cloud/canary';
export const LABEL_WAVE = 'canary.gardener.cloud/wave';
/** Conflicts retried on compare-and-swap writes before the reconcile gives up (and is retried with backoff). */
const CAS_ATTEMPTS = 3;
export const GARDEN_NAMESPACE = 'garden';

export interface ExecutorCaches {
  seed(name: string): Seed | undefined;
  seeds(): Seed[];
  gardenlet(seed: string): Gardenlet | undefined;
  managedSeed(seed: string): ManagedSeed | undefined;
  registration(name: string): ControllerRegistration | undefined;
  registrations(): ControllerRegistration[];
  deployment(name: string): ControllerDeployment | undefined;
  /** A fresh read of a seed from the API server, after a conflict. */
  freshSeed(name: string): Promise<Seed | undefined>;
  /** A fresh read of a ControllerDeployment, after a conflict. */
  freshDeployment(name: string): Promise<ControllerDeployment | undefined>;
  /** A fresh read of a ControllerRegistration, after a conflict. */
  freshRegistration(name: string): Promise<ControllerRegistration | undefined>;
}

type SeedSelector = NonNullable<NonNullable<ControllerRegistration['spec']['deployment']>['seedSelector']>;

/** The selector without the gate's expression on `label`. */
function withoutGate(sel: SeedSelector | undefined, label: string): SeedSelector {
  return { ...sel, matchExpressions: (sel?.matchExpressions ?? []).filter((e) => !(e.key === label && e.operator === 'DoesNotExist')) };
}

/** An empty selector is no selector (it selects every seed): leave it out. */
function tidy(sel: SeedSelector): SeedSelector | undefined {
  const out: SeedSelector = { ...sel };
  if (!out.matchExpressions?.length) delete out.matchExpressions;
  if (!out.matchLabels || !Object.keys(out.matchLabels).length) delete out.matchLabels;
  return Object.keys(out).length ? out : undefined;
}

/** Rollouts holding a seed's emergency stop. */
const holders = (a: Record<string, string>): string[] => (a[ANNOTATION_STOPPED_BY] ?? '').split(',').filter(Boolean);

const seedConfigLabels = (config: unknown): Record<string, string> =>
  ((config as { seedConfig?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.seedConfig?.metadata?.labels ?? {});

export interface RolloutRef {
  name: string;
  uid?: string;
}

/** The OCI repository as a merge patch: fields not in `want` are removed (ref and repository exclude each other). */
function ociPatch(want: OCIRepository): Record<string, string | null> {
  return { ref: want.ref ?? null, repository: want.repository ?? null, tag: want.tag ?? null, digest: want.digest ?? null };
}

/** Per rollout: a token bucket for shoot reconcile requests (a rate, not a record: restarts only refill it). */
interface Bucket {
  tokens: number;
  at: number;
}

export class Executor {
  /** Writes sent, by kind, for metrics and tests. */
  readonly writes: Record<string, number> = {};
  private readonly events: k8s.CoreV1Api;
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly client: KubeClient,
    private readonly caches: ExecutorCaches,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.events = client.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  private count(kind: string): void {
    this.writes[kind] = (this.writes[kind] ?? 0) + 1;
  }

  /** Applies the effects in order, stopping at the first error; returns the number of writes sent. */
  async apply(rollout: RolloutRef, effects: readonly Effect[]): Promise<number> {
    const before = this.total();
    for (const e of effects) await this.applyOne(rollout, e);
    return this.total() - before;
  }

  private total(): number {
    return Object.values(this.writes).reduce((a, b) => a + b, 0);
  }

  private async applyOne(rollout: RolloutRef, e: Effect): Promise<void> {
    switch (e.type) {
      case 'markSeed':
        return this.markSeed(rollout, e.seed, e.wave, e.canary);
      case 'unmarkSeed':
        return this.unmarkSeed(rollout, e.seed);
      case 'promoteSeed':
        return this.setGardenletChart(e.seed, e.ociRepository);
      case 'revertSeed':
        if (!e.previousRef) return;
        return this.setGardenletChart(e.seed, e.previousRef, e.replaces);
      case 'emergencyStopSeed':
        return this.changeHolders(rollout, e.seed, true);
      case 'clearEmergencyStop':
        return this.changeHolders(rollout, e.seed, false);
      case 'requestShootReconciles':
        return this.requestReconciles(rollout, e.shoots, e.pending, e.maxPerMinute);
      case 'updateControllerDeployment':
        return this.setDeploymentHelm(e.name, e.helm, e.replaces);
      case 'createCanaryRegistration':
        return this.createCanaryRegistration(rollout, e);
      case 'deleteCanaryRegistration':
        return this.deleteCanaryRegistration(rollout, e.registration, e.deployment);
      case 'gateRegistration':
        return this.gateRegistration(rollout, e.registration, e.seedLabel, e.on);
      case 'labelSeed':
        return this.labelSeed(e.seed, e.key, e.value);
      case 'emitEvent':
        return this.emit(rollout, e.eventType, e.reason, e.message);
    }
  }

  /**
   * Replaces the deployment's helm content exactly (a merge patch would merge old values into new ones), as a
   * compare-and-swap against the resourceVersion it was computed from; a conflict re-reads and decides again. With
   * `replaces`, only content equal to it is overwritten: a revert never overwrites someone else's edit (the engine
   * reports it in the status).
   */
  private async setDeploymentHelm(name: string, helm: Record<string, unknown>, replaces?: Record<string, unknown>): Promise<void> {
    let cd = this.caches.deployment(name);
    for (let attempt = 1; ; attempt++) {
      if (!cd) throw new Error(`ControllerDeployment ${name} not found`);
      if (sameHelm(cd.helm, helm) || (replaces && !sameHelm(cd.helm, replaces))) return;
      this.count('controllerDeployment');
      try {
        await this.client.jsonPatch(RESOURCES.controllerDeployments, name, [
          { op: 'test', path: '/metadata/resourceVersion', value: cd.metadata.resourceVersion },
          { op: 'add', path: '/helm', value: helm },
        ]);
        this.log.info('ControllerDeployment updated', { controllerDeployment: name, revert: replaces !== undefined });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        cd = await this.caches.freshDeployment(name);
      }
    }
  }

  private async createCanaryRegistration(rollout: RolloutRef, e: Extract<Effect, { type: 'createCanaryRegistration' }>): Promise<void> {
    const labels = { [ANNOTATION_ROLLOUT]: rollout.name };
    const cd = this.caches.deployment(e.deployment);
    const existing = this.caches.registration(e.registration);
    for (const o of [cd, existing]) {
      if (o && !ownedBy(o, rollout)) {
        throw new Error(
          `${o.metadata.name} belongs to rollout ${o.metadata.labels?.[ANNOTATION_ROLLOUT] ?? '(none)'}: two rollouts of one extension cannot share its temporary registration; ` +
            `if that rollout is gone or was aborted with Freeze, delete ControllerRegistration ${e.registration} and then ControllerDeployment ${e.deployment}`,
        );
      }
    }
    if (!cd) {
      this.count('controllerDeployment');
      await this.createIgnoringConflict(RESOURCES.controllerDeployments, { metadata: { name: e.deployment, labels }, helm: e.helm });
    } else {
      await this.setDeploymentHelm(e.deployment, e.helm);
    }
    if (existing) return;
    const from = this.caches.registration(e.from);
    if (!from) throw new Error(`ControllerRegistration ${e.from} not found`);
    // a copy of the original (same resources, all non-primary) that selects only the released seeds
    const original = withoutGate(from.spec.deployment?.seedSelector, e.seedLabel);
    const seedSelector = { ...original, matchLabels: { ...original.matchLabels, [e.seedLabel]: RELEASE_VALUE } };
    this.count('controllerRegistration');
    await this.createIgnoringConflict(RESOURCES.controllerRegistrations, {
      metadata: { name: e.registration, labels },
      spec: { ...from.spec, deployment: { ...from.spec.deployment, deploymentRefs: [{ name: e.deployment }], seedSelector: tidy(seedSelector) } },
    });
    this.log.info('temporary registration created', { registration: e.registration, controllerDeployment: e.deployment, from: e.from });
  }

  private async createIgnoringConflict(rt: ResourceType, body: KubeObject): Promise<void> {
    try {
      await this.client.create(rt, body);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  /**
   * Deletes the temporary registration, and its deployment only once no registration refers to it any more. A deleted
   * registration stays under gardener-controller-manager's finalizer until its installations are gone
   * (pkg/controllermanager/controller/controllerregistration/controllerregistrationfinalizer), and removing that
   * finalizer is an update gardener-apiserver admits only while the deployments the registration names exist
   * (plugin/pkg/global/resourcereferencemanager/admission.go: ensureControllerRegistrationReferences). A deployment
   * deleted first keeps the registration forever unless gardener-controller-manager's own rule holds the deployment
   * (pkg/controllermanager/controller/controllerdeployment/controllerdeployment: its finalizer stays while a
   * registration names it); this order does not depend on that controller running, and spares its retries with
   * backoff (it does not watch registrations). Objects already being deleted are left to their finalizers; the
   * registration going is a watch event, and the reconcile it triggers deletes the deployment.
   */
  private async deleteCanaryRegistration(rollout: RolloutRef, registration: string, deployment: string): Promise<void> {
    const reg = this.caches.registration(registration);
    // a finished rollout keeps asserting its clean-up: it never takes a later rollout's temporary objects with it
    if (reg && !ownedBy(reg, rollout)) return;
    if (reg && !reg.metadata.deletionTimestamp) {
      this.count('controllerRegistration');
      await this.client.delete(RESOURCES.controllerRegistrations, registration);
      this.log.info('temporary registration deleted', { registration });
    }
    const referring = this.caches.registrations().filter((r) => r.spec.deployment?.deploymentRefs?.some((d) => d.name === deployment));
    if (referring.length) return;
    const cd = this.caches.deployment(deployment);
    if (cd && ownedBy(cd, rollout) && !cd.metadata.deletionTimestamp) {
      this.count('controllerDeployment');
      await this.client.delete(RESOURCES.controllerDeployments, deployment);
      this.log.info('temporary deployment deleted', { controllerDeployment: deployment });
    }
  }

  /**
   * Adds (on) or removes (off) `label DoesNotExist` on the original registration's seedSelector, as a
   * compare-and-swap; a conflict (e.g. gardener-controller-manager adding its finalizer meanwhile) re-reads and
   * decides again.
   */
  private async gateRegistration(rollout: RolloutRef, name: string, label: string, on: boolean): Promise<void> {
    // the gate is shared by every rollout of this extension (one release label per ControllerDeployment): a finished
    // rollout does not lift it while another rollout's temporary registration serves the released seeds
    if (!on && this.caches.registrations().some((r) => !ownedBy(r, rollout) && r.spec.deployment?.seedSelector?.matchLabels?.[label] !== undefined)) return;
    let reg = this.caches.registration(name);
    for (let attempt = 1; ; attempt++) {
      if (!reg) {
        if (on) throw new Error(`ControllerRegistration ${name} not found`);
        return;
      }
      const sel = reg.spec.deployment?.seedSelector;
      const gated = (sel?.matchExpressions ?? []).some((x) => x.key === label && x.operator === 'DoesNotExist');
      if (gated === on) return;
      const rest = withoutGate(sel, label);
      const want = tidy(on ? { ...rest, matchExpressions: [...(rest.matchExpressions ?? []), { key: label, operator: 'DoesNotExist' }] } : rest);
      this.count('controllerRegistration');
      try {
        await this.client.jsonPatch(RESOURCES.controllerRegistrations, name, [
          { op: 'test', path: '/metadata/resourceVersion', value: reg.metadata.resourceVersion },
          want ? { op: 'add', path: '/spec/deployment/seedSelector', value: want } : { op: 'remove', path: '/spec/deployment/seedSelector' },
        ]);
        this.log.info(on ? 'registration kept off released seeds' : 'registration selector restored', { registration: name, label });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        reg = await this.caches.freshRegistration(name);
      }
    }
  }

  /**
   * Sets or removes a seed label on the Seed (effective now) and in its seedConfig (gardenlet resets Seed labels
   * to the seedConfig at start-up, so only that makes the label durable).
   */
  private async labelSeed(seed: string, key: string, value: string | null): Promise<void> {
    const s = this.caches.seed(seed);
    if (!s) return;
    if ((s.metadata.labels?.[key] ?? null) !== value) {
      this.count('seedLabels');
      await this.client.patch(RESOURCES.seeds, seed, { metadata: { labels: { [key]: value } } });
    }
    const g = this.caches.gardenlet(seed);
    const m = g ? undefined : this.caches.managedSeed(seed);
    const config = g ? g.spec.config : m?.spec.gardenlet?.config;
    if (!config || (seedConfigLabels(config)[key] ?? null) === value) return;
    const labels = { seedConfig: { metadata: { labels: { [key]: value } } } };
    this.count('seedConfig');
    if (g) await this.client.patch(RESOURCES.gardenlets, seed, { spec: { config: labels } }, GARDEN_NAMESPACE);
    else await this.client.patch(RESOURCES.managedSeeds, seed, { spec: { gardenlet: { config: labels } } }, GARDEN_NAMESPACE);
  }

  /** Merge-patches the seed's annotations and labels that differ from `want` (null removes). */
  private async patchSeedMeta(seed: string, want: { annotations?: Record<string, string | null>; labels?: Record<string, string | null> }): Promise<void> {
    const s = this.caches.seed(seed);
    if (!s) return;
    const diff = (cur: Record<string, string> | undefined, w: Record<string, string | null> | undefined) =>
      Object.fromEntries(Object.entries(w ?? {}).filter(([k, v]) => (cur?.[k] ?? null) !== v));
    const annotations = diff(s.metadata.annotations, want.annotations);
    const labels = diff(s.metadata.labels, want.labels);
    if (!Object.keys(annotations).length && !Object.keys(labels).length) return;
    this.count(Object.keys(labels).length ? 'seedLabels' : 'seedAnnotations');
    await this.client.patch(RESOURCES.seeds, seed, { metadata: { ...(Object.keys(annotations).length ? { annotations } : {}), ...(Object.keys(labels).length ? { labels } : {}) } });
  }

  /** Marks a seed as this rollout's, unless another rollout marked it first (it keeps its marks until it lets go). */
  private async markSeed(rollout: RolloutRef, seed: string, wave: string, canary: boolean): Promise<void> {
    const owner = this.caches.seed(seed)?.metadata.annotations?.[ANNOTATION_ROLLOUT];
    if (owner !== undefined && owner !== rollout.name) return;
    await this.patchSeedMeta(seed, {
      annotations: { [ANNOTATION_ROLLOUT]: rollout.name, [ANNOTATION_WAVE]: wave, [ANNOTATION_CANARY]: canary ? 'true' : null },
      labels: { [LABEL_WAVE]: wave, [LABEL_CANARY]: canary ? 'true' : null },
    });
  }

  private async unmarkSeed(rollout: RolloutRef, seed: string): Promise<void> {
    if (this.caches.seed(seed)?.metadata.annotations?.[ANNOTATION_ROLLOUT] !== rollout.name) return;
    await this.patchSeedMeta(seed, {
      annotations: { [ANNOTATION_ROLLOUT]: null, [ANNOTATION_WAVE]: null, [ANNOTATION_CANARY]: null },
      labels: { [LABEL_WAVE]: null, [LABEL_CANARY]: null },
    });
  }

  /** Writes the seed's Gardenlet chart; with `replaces`, only over that chart (a revert leaves someone else's edit). */
  private async setGardenletChart(seed: string, want: OCIRepository, replaces?: OCIRepository): Promise<void> {
    const g = this.caches.gardenlet(seed);
    if (!g) return; // managed seeds have no Gardenlet object: they follow their parent
    const current = g.spec.deployment?.helm?.ociRepository as OCIRepository | undefined;
    if (sameOCIRef(current, want) || (replaces && !sameOCIRef(current, replaces))) return;
    this.count('gardenletChart');
    await this.client.patch(RESOURCES.gardenlets, seed, { spec: { deployment: { helm: { ociRepository: ociPatch(want) } } } }, GARDEN_NAMESPACE);
  }

  /**
   * Adds or removes this rollout in the seed's emergency-stop holders, as a compare-and-swap against the
   * resourceVersion the change was computed from: a holder someone else added meanwhile (another rollout, an
   * operator keeping the seed stopped) is never dropped. A conflict re-reads the seed and computes again.
   */
  private async changeHolders(rollout: RolloutRef, seed: string, hold: boolean): Promise<void> {
    let s = this.caches.seed(seed);
    for (let attempt = 1; s; attempt++) {
      const a = s.metadata.annotations ?? {};
      const by = holders(a);
      const stopped = a[ANNOTATION_EMERGENCY_STOP] === 'true';
      let want: Record<string, string | null> | undefined;
      if (hold) {
        // a stop nobody is recorded for is an operator's: it stays theirs, and it already stops the seed
        if (stopped && (by.length === 0 || by.includes(rollout.name))) return;
        want = { [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: [...new Set([...by, rollout.name])].sort().join(',') };
      } else {
        if (!by.includes(rollout.name)) return; // never lift a stop we did not set
        const rest = by.filter((n) => n !== rollout.name);
        want = rest.length ? { [ANNOTATION_STOPPED_BY]: rest.join(',') } : { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null };
      }
      this.count('seedAnnotations');
      try {
        await this.client.jsonPatch(RESOURCES.seeds, seed, [{ op: 'test', path: '/metadata/resourceVersion', value: s.metadata.resourceVersion }, ...annotationOps(a, want)]);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        s = await this.caches.freshSeed(seed);
      }
    }
  }

  /** Removes every mark and emergency stop this rollout set (finalizer); versions stay where they are. */
  async cleanup(rollout: RolloutRef): Promise<number> {
    let n = 0;
    for (const seed of this.caches.seeds()) {
      const a = seed.metadata.annotations ?? {};
      const mine = a[ANNOTATION_ROLLOUT] === rollout.name;
      const holds = holders(a).includes(rollout.name);
      if (mine) await this.unmarkSeed(rollout, seed.metadata.name);
      if (holds) await this.changeHolders(rollout, seed.metadata.name, false);
      if (mine || holds) n++;
    }
    return n;
  }

  /**
   * Sends gardener.cloud/operation=reconcile (retry for a Failed shoot) to the owed shoots at most at maxPerMinute (a
   * token bucket per rollout; requests already pending at Gardener count against it). gardener-apiserver turns the
   * annotation into a generation bump (pkg/apiserver/registry/core/shoot/strategy.go), so what is owed is derived
   * from the shoots themselves on every reconcile: a failed or lost request is simply owed again.
   */
  private async requestReconciles(rollout: RolloutRef, shoots: readonly { namespace: string; name: string; operation: ShootOperation }[], pending: number, maxPerMinute: number): Promise<void> {
    const now = this.clock();
    const burst = Math.max(1, Math.ceil(maxPerMinute / 12)); // five seconds' worth
    const b = this.buckets.get(rollout.name) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 60_000) * maxPerMinute);
    b.at = now;
    this.buckets.set(rollout.name, b);
    const n = Math.min(shoots.length, Math.floor(b.tokens), Math.max(0, maxPerMinute - pending));
    for (const s of shoots.slice(0, n)) {
      b.tokens -= 1;
      this.count('shootReconcile');
      try {
        if (s.operation === 'retry') await this.requestRetry(s);
        else await this.client.patch(RESOURCES.shoots, s.name, { metadata: { annotations: { [ANNOTATION_GARDENER_OPERATION]: s.operation } } }, s.namespace);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }
  }

  /**
   * `retry` only over a shoot read Failed just now (compare-and-swap on its resourceVersion): gardener-apiserver acts
   * on it only while lastOperation is Failed (pkg/apiserver/registry/core/shoot/strategy.go) and would otherwise keep
   * it, to fire on some later failure. A shoot that changed meanwhile is left to the next reconcile to judge.
   */
  private async requestRetry(s: { namespace: string; name: string }): Promise<void> {
    const fresh = await this.client.tryGet(RESOURCES.shoots, Shoot, s.name, s.namespace);
    if (fresh?.status?.lastOperation?.state !== 'Failed') return;
    const ops = [{ op: 'test', path: '/metadata/resourceVersion', value: fresh.metadata.resourceVersion }, ...annotationOps(fresh.metadata.annotations ?? {}, { [ANNOTATION_GARDENER_OPERATION]: 'retry' })];
    try {
      await this.client.jsonPatch(RESOURCES.shoots, s.name, ops, s.namespace);
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  /** Milliseconds until the rollout may send its next reconcile request. */
  nextReconcileInMs(rollout: string, maxPerMinute: number): number {
    const b = this.buckets.get(rollout);
    if (!b || b.tokens >= 1) return 0;
    return Math.ceil(((1 - b.tokens) * 60_000) / Math.max(1, maxPerMinute));
  }

  private async emit(rollout: RolloutRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    try {
      this.count('event');
      await this.events.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { generateName: `${rollout.name}.` },
          involvedObject: { apiVersion: API_VERSION, kind: KIND, name: rollout.name, ...(rollout.uid ? { uid: rollout.uid } : {}) },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: FIELD_MANAGER },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.error('emitting an event failed', err, { reason }); // events are best effort
    }
  }

  /** Forgets a rollout that was deleted. */
  forget(rollout: string): void {
    this.buckets.delete(rollout);
  }
}

function isConflict(err: unknown): boolean {
  // 409 for a resourceVersion precondition; 422 for a failed JSON patch `test`
  const code = statusCode(err);
  return code === 409 || code === 422;
}

/** JSON patch ops that set (value) or remove (null) annotations, given the current ones. */
function annotationOps(current: Record<string, string>, want: Record<string, string | null>): object[] {
  const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
  const ops: object[] = [];
  if (!Object.keys(current).length) {
    const add = Object.fromEntries(Object.entries(want).filter(([, v]) => v !== null));
    return Object.keys(add).length ? [{ op: 'add', path: '/metadata/annotations', value: add }] : [];
  }
  for (const [k, v] of Object.entries(want)) {
    if (v === null) {
      if (k in current) ops.push({ op: 'remove', path: `/metadata/annotations/${esc(k)}` });
    } else ops.push({ op: 'add', path: `/metadata/annotations/${esc(k)}`, value: v });
  }
  return ops;
}
