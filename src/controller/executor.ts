// Applies the engine's effects to the garden, idempotently: every write is preceded by a look at the cache and
// skipped when the object already has the desired value, so a repeated effect never patches a seed twice.
// Marks are annotations (gardenlet resets Seed labels to its seedConfig at start-up; annotations survive).
// An emergency stop is only ever removed by the rollouts that set it: ANNOTATION_STOPPED_BY lists them (sorted,
// comma-separated), so rollouts whose seeds overlap (a gardenlet halt and an extension gate, say) each keep their
// hold, and the stop goes only when the last of them lets go. A stop without that annotation is an operator's.
import * as k8s from '@kubernetes/client-node';
import type { OCIRepository } from '../api/v1alpha1.js';
import { API_VERSION, KIND } from '../api/v1alpha1.js';
import type { Effect } from '../engine/effects.js';
import { RELEASE_VALUE, sameHelm } from '../engine/extension.js';
import {
  ANNOTATION_EMERGENCY_STOP,
  ANNOTATION_GARDENER_OPERATION,
  type ControllerDeployment,
  type ControllerRegistration,
  type Gardenlet,
  type ManagedSeed,
  type Seed,
  type Shoot,
} from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export const FIELD_MANAGER = 'canary-rollout-controller';
export const ANNOTATION_ROLLOUT = 'canary.gardener.cloud/rollout';
export const ANNOTATION_WAVE = 'canary.gardener.cloud/wave';
export const ANNOTATION_CANARY = 'canary.gardener.cloud/canary';
export const ANNOTATION_STOPPED_BY = 'canary.gardener.cloud/emergency-stop-by';
export const GARDEN_NAMESPACE = 'garden';

export interface ExecutorCaches {
  seed(name: string): Seed | undefined;
  seeds(): Seed[];
  gardenlet(seed: string): Gardenlet | undefined;
  managedSeed(seed: string): ManagedSeed | undefined;
  shootsOn(seed: string): Shoot[];
  registration(name: string): ControllerRegistration | undefined;
  deployment(name: string): ControllerDeployment | undefined;
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

function sameOCI(a: OCIRepository | undefined, b: OCIRepository): boolean {
  return !!a && (a.ref ?? '') === (b.ref ?? '') && (a.repository ?? '') === (b.repository ?? '') && (a.tag ?? '') === (b.tag ?? '') && (a.digest ?? '') === (b.digest ?? '');
}

export class Executor {
  /** Writes sent, by kind, for metrics and tests. */
  readonly writes: Record<string, number> = {};
  private readonly events: k8s.CoreV1Api;
  private reconcileBacklog: { namespace: string; name: string }[] = [];
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconcileRate = 30;

  constructor(
    private readonly client: KubeClient,
    private readonly caches: ExecutorCaches,
    private readonly log: Logger,
  ) {
    this.events = client.kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  private count(kind: string): void {
    this.writes[kind] = (this.writes[kind] ?? 0) + 1;
  }

  async apply(rollout: RolloutRef, effects: readonly Effect[]): Promise<void> {
    for (const e of effects) await this.applyOne(rollout, e);
  }

  private async applyOne(rollout: RolloutRef, e: Effect): Promise<void> {
    switch (e.type) {
      case 'markSeed':
        return this.annotateSeed(e.seed, { [ANNOTATION_ROLLOUT]: rollout.name, [ANNOTATION_WAVE]: e.wave, [ANNOTATION_CANARY]: e.canary ? 'true' : null });
      case 'promoteSeed':
        return this.setGardenletChart(e.seed, e.ociRepository);
      case 'revertSeed':
        if (e.previousRef) return this.setGardenletChart(e.seed, e.previousRef);
        this.log.info('no previous chart recorded, seed left as it is', { seed: e.seed, rollout: rollout.name });
        return;
      case 'emergencyStopSeed':
      case 'holdSeed':
        return this.stopSeed(rollout, e.seed);
      case 'clearEmergencyStop':
      case 'releaseSeed':
        return this.unstopSeed(rollout, e.seed);
      case 'triggerShootReconciles':
        return this.triggerReconciles(e.seed, e.maxPerMinute);
      case 'updateControllerDeployment':
        return this.setDeploymentHelm(e.name, e.helm);
      case 'createCanaryRegistration':
        return this.createCanaryRegistration(e);
      case 'deleteCanaryRegistration':
        return this.deleteCanaryRegistration(e.registration, e.deployment);
      case 'gateRegistration':
        return this.gateRegistration(e.registration, e.seedLabel, e.on);
      case 'labelSeed':
        return this.labelSeed(e.seed, e.key, e.value);
      case 'emitEvent':
        return this.emit(rollout, e.eventType, e.reason, e.message);
    }
  }

  /** Replaces the deployment's helm content exactly (a merge patch would merge old values into new ones). */
  private async setDeploymentHelm(name: string, helm: Record<string, unknown>): Promise<void> {
    const cd = this.caches.deployment(name);
    if (!cd) throw new Error(`ControllerDeployment ${name} not found`);
    if (sameHelm(cd.helm, helm)) return;
    this.count('controllerDeployment');
    await this.client.jsonPatch(RESOURCES.controllerDeployments, name, [
      { op: 'test', path: '/metadata/resourceVersion', value: cd.metadata.resourceVersion },
      { op: 'add', path: '/helm', value: helm },
    ]);
    this.log.info('ControllerDeployment updated', { controllerDeployment: name });
  }

  private async createCanaryRegistration(e: Extract<Effect, { type: 'createCanaryRegistration' }>): Promise<void> {
    if (!this.caches.deployment(e.deployment)) {
      this.count('controllerDeployment');
      await this.createIgnoringConflict(RESOURCES.controllerDeployments, { metadata: { name: e.deployment, labels: { [ANNOTATION_ROLLOUT]: 'true' } }, helm: e.helm });
    } else {
      await this.setDeploymentHelm(e.deployment, e.helm);
    }
    if (this.caches.registration(e.registration)) return;
    const from = this.caches.registration(e.from);
    if (!from) throw new Error(`ControllerRegistration ${e.from} not found`);
    // a copy of the original (same resources, all non-primary) that selects only the released seeds
    const original = withoutGate(from.spec.deployment?.seedSelector, e.seedLabel);
    const seedSelector = { ...original, matchLabels: { ...original.matchLabels, [e.seedLabel]: RELEASE_VALUE } };
    this.count('controllerRegistration');
    await this.createIgnoringConflict(RESOURCES.controllerRegistrations, {
      metadata: { name: e.registration, labels: { [ANNOTATION_ROLLOUT]: 'true' } },
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

  private async deleteCanaryRegistration(registration: string, deployment: string): Promise<void> {
    if (this.caches.registration(registration)) {
      this.count('controllerRegistration');
      await this.client.delete(RESOURCES.controllerRegistrations, registration);
    }
    if (this.caches.deployment(deployment)) {
      this.count('controllerDeployment');
      await this.client.delete(RESOURCES.controllerDeployments, deployment);
    }
  }

  /** Adds (on) or removes (off) `label DoesNotExist` on the original registration's seedSelector. */
  private async gateRegistration(name: string, label: string, on: boolean): Promise<void> {
    const reg = this.caches.registration(name);
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
    await this.client.jsonPatch(RESOURCES.controllerRegistrations, name, [
      { op: 'test', path: '/metadata/resourceVersion', value: reg.metadata.resourceVersion },
      want ? { op: 'add', path: '/spec/deployment/seedSelector', value: want } : { op: 'remove', path: '/spec/deployment/seedSelector' },
    ]);
    this.log.info(on ? 'registration kept off released seeds' : 'registration selector restored', { registration: name, label });
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

  private async annotateSeed(seed: string, want: Record<string, string | null>): Promise<void> {
    const current = this.caches.seed(seed)?.metadata.annotations ?? {};
    const diff = Object.fromEntries(Object.entries(want).filter(([k, v]) => (current[k] ?? null) !== v));
    if (!Object.keys(diff).length || !this.caches.seed(seed)) return;
    this.count('seedAnnotations');
    await this.client.patch(RESOURCES.seeds, seed, { metadata: { annotations: diff } });
  }

  private async setGardenletChart(seed: string, want: OCIRepository): Promise<void> {
    const g = this.caches.gardenlet(seed);
    if (!g) {
      this.log.info('seed has no Gardenlet object (managed seeds follow their parent), nothing to patch', { seed });
      return;
    }
    if (sameOCI(g.spec.deployment?.helm?.ociRepository as OCIRepository | undefined, want)) return;
    this.count('gardenletChart');
    await this.client.patch(RESOURCES.gardenlets, seed, { spec: { deployment: { helm: { ociRepository: ociPatch(want) } } } }, GARDEN_NAMESPACE);
  }

  private async stopSeed(rollout: RolloutRef, seed: string): Promise<void> {
    const a = this.caches.seed(seed)?.metadata.annotations ?? {};
    const by = holders(a);
    if (a[ANNOTATION_EMERGENCY_STOP] === 'true' && by.length === 0) return; // an operator's stop: it stays theirs
    if (by.includes(rollout.name) && a[ANNOTATION_EMERGENCY_STOP] === 'true') return;
    await this.annotateSeed(seed, { [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: [...new Set([...by, rollout.name])].sort().join(',') });
  }

  private async unstopSeed(rollout: RolloutRef, seed: string): Promise<void> {
    const a = this.caches.seed(seed)?.metadata.annotations ?? {};
    const by = holders(a);
    if (!by.includes(rollout.name)) return; // never lift a stop we did not set
    const rest = by.filter((n) => n !== rollout.name);
    await this.annotateSeed(seed, rest.length ? { [ANNOTATION_STOPPED_BY]: rest.join(',') } : { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null });
  }

  /** Removes every mark and emergency stop this rollout set (finalizer); versions stay where they are. */
  async cleanup(rollout: RolloutRef): Promise<number> {
    let n = 0;
    for (const seed of this.caches.seeds()) {
      const a = seed.metadata.annotations ?? {};
      const want: Record<string, string | null> = {};
      if (a[ANNOTATION_ROLLOUT] === rollout.name) Object.assign(want, { [ANNOTATION_ROLLOUT]: null, [ANNOTATION_WAVE]: null, [ANNOTATION_CANARY]: null });
      const by = holders(a);
      if (by.includes(rollout.name)) {
        const rest = by.filter((x) => x !== rollout.name);
        Object.assign(want, rest.length ? { [ANNOTATION_STOPPED_BY]: rest.join(',') } : { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null });
      }
      if (Object.keys(want).length) {
        await this.annotateSeed(seed.metadata.name, want);
        n++;
      }
    }
    return n;
  }

  /**
   * Queues the seed's shoots for gardener.cloud/operation=reconcile, drained at maxPerMinute. (gardener-apiserver
   * strips that annotation on write and increases metadata.generation, which makes gardenlet reconcile.)
   */
  private triggerReconciles(seed: string, maxPerMinute: number): void {
    this.reconcileRate = maxPerMinute;
    for (const s of this.caches.shootsOn(seed)) {
      // gardener-apiserver turns the reconcile annotation into a generation bump and drops it: a shoot whose
      // observedGeneration lags its generation has a reconcile pending already
      if ((s.status?.observedGeneration ?? 0) < (s.metadata.generation ?? 0)) continue;
      this.reconcileBacklog.push({ namespace: s.metadata.namespace!, name: s.metadata.name });
    }
    this.reconcileTimer ??= setInterval(() => void this.drainReconciles(), 1000);
  }

  private async drainReconciles(): Promise<void> {
    const batch = this.reconcileBacklog.splice(0, Math.max(1, Math.floor(this.reconcileRate / 60)));
    if (!batch.length) {
      clearInterval(this.reconcileTimer);
      this.reconcileTimer = undefined;
      return;
    }
    for (const s of batch) {
      try {
        this.count('shootReconcile');
        await this.client.patch(RESOURCES.shoots, s.name, { metadata: { annotations: { [ANNOTATION_GARDENER_OPERATION]: 'reconcile' } } }, s.namespace);
      } catch (err) {
        if (statusCode(err) !== 404) this.log.error('triggering a shoot reconcile failed', err, { shoot: `${s.namespace}/${s.name}` });
      }
    }
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

  stop(): void {
    clearInterval(this.reconcileTimer);
  }
}
