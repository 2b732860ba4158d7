// Applies the engine's effects to the garden, idempotently: every write is preceded by a look at the cache and
// skipped when the object already has the desired value, so a repeated effect never patches a seed twice.
// Marks are annotations (gardenlet resets Seed labels to its seedConfig at start-up; annotations survive).
// An emergency stop is only ever removed by the rollout that set it (recorded in ANNOTATION_STOPPED_BY).
import * as k8s from '@kubernetes/client-node';
import type { OCIRepository } from '../api/v1alpha1.js';
import { API_VERSION, KIND } from '../api/v1alpha1.js';
import type { Effect } from '../engine/effects.js';
import { ANNOTATION_EMERGENCY_STOP, ANNOTATION_GARDENER_OPERATION, type Gardenlet, type Seed, type Shoot } from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeClient } from '../kube/client.js';
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
  shootsOn(seed: string): Shoot[];
}

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
        this.count('controllerDeployment');
        await this.client.patch(RESOURCES.controllerDeployments, e.name, { helm: { ociRepository: ociPatch(e.ociRepository), values: e.values ?? null } });
        return;
      case 'emitEvent':
        return this.emit(rollout, e.eventType, e.reason, e.message);
    }
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
    if (a[ANNOTATION_EMERGENCY_STOP] === 'true') return; // already stopped (by us, or by an operator: then it stays theirs)
    await this.annotateSeed(seed, { [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: rollout.name });
  }

  private async unstopSeed(rollout: RolloutRef, seed: string): Promise<void> {
    const a = this.caches.seed(seed)?.metadata.annotations ?? {};
    if (a[ANNOTATION_STOPPED_BY] !== rollout.name) return; // never lift a stop we did not set
    await this.annotateSeed(seed, { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null });
  }

  /** Removes every mark and emergency stop this rollout set (finalizer); versions stay where they are. */
  async cleanup(rollout: RolloutRef): Promise<number> {
    let n = 0;
    for (const seed of this.caches.seeds()) {
      const a = seed.metadata.annotations ?? {};
      const want: Record<string, string | null> = {};
      if (a[ANNOTATION_ROLLOUT] === rollout.name) Object.assign(want, { [ANNOTATION_ROLLOUT]: null, [ANNOTATION_WAVE]: null, [ANNOTATION_CANARY]: null });
      if (a[ANNOTATION_STOPPED_BY] === rollout.name) Object.assign(want, { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null });
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
