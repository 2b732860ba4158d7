// Converges the garden: applies the engine's effects (desired.ts: convergeEffects) idempotently. Every write is
// preceded by a look at the cache and skipped when the object already has the desired value, so the full list can
// be applied on every reconcile and only differences are sent. The list is in safety order and apply stops at the
// first error (the next reconcile applies it again).
// The writes are in three parts: seeds (seed-marks.ts), the extension's objects (extension-objects.ts) and shoot
// reconcile requests (shoot-requests.ts); Events are sent here.
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1.js';
import type { Effect } from '../engine/effects.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import { ExtensionObjects } from './extension-objects.js';
import { SeedMarks } from './seed-marks.js';
import { ShootRequests } from './shoot-requests.js';
import type { ExecutorCaches, RolloutRef, WriteContext } from './write-context.js';

export const FIELD_MANAGER = 'canary-rollout-controller';

export class Executor {
  /** Writes sent, by kind, for metrics and tests. */
  readonly writes: Record<string, number> = {};
  private readonly events: k8s.CoreV1Api;
  private readonly seeds: SeedMarks;
  private readonly extension: ExtensionObjects;
  private readonly shoots: ShootRequests;

  constructor(
    client: KubeClient,
    caches: ExecutorCaches,
    private readonly log: Logger,
    clock: () => number = Date.now,
  ) {
    this.events = client.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const w: WriteContext = { client, caches, log, count: (kind) => this.count(kind) };
    this.seeds = new SeedMarks(w);
    this.extension = new ExtensionObjects(w);
    this.shoots = new ShootRequests(w, clock);
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
        return this.seeds.mark(rollout, e.seed, e.wave, e.canary);
      case 'unmarkSeed':
        return this.seeds.unmark(rollout, e.seed);
      case 'promoteSeed':
        return this.seeds.setGardenletChart(e.seed, e.ociRepository);
      case 'revertSeed':
        if (!e.previousRef) return;
        return this.seeds.setGardenletChart(e.seed, e.previousRef, e.replaces);
      case 'emergencyStopSeed':
        return this.seeds.changeHolders(rollout, e.seed, true);
      case 'clearEmergencyStop':
        return this.seeds.changeHolders(rollout, e.seed, false);
      case 'requestShootReconciles':
        return this.shoots.request(rollout, e.shoots, e.pending, e.maxPerMinute);
      case 'updateControllerDeployment':
        return this.extension.setDeploymentHelm(e.name, e.helm, e.replaces);
      case 'createCanaryRegistration':
        return this.extension.createCanaryRegistration(rollout, e);
      case 'deleteCanaryRegistration':
        return this.extension.deleteCanaryRegistration(rollout, e.registration, e.deployment);
      case 'gateRegistration':
        return this.extension.gateRegistration(rollout, e.registration, e.seedLabel, e.on);
      case 'labelSeed':
        return this.seeds.label(e.seed, e.key, e.value);
      case 'emitEvent':
        return this.emit(rollout, e.eventType, e.reason, e.message);
    }
  }

  /** Removes every mark and emergency stop this rollout set (finalizer); versions stay where they are. */
  cleanup(rollout: RolloutRef): Promise<number> {
    return this.seeds.cleanup(rollout);
  }

  /** Milliseconds until the rollout may send its next reconcile request. */
  nextReconcileInMs(rollout: string, maxPerMinute: number): number {
    return this.shoots.nextInMs(rollout, maxPerMinute);
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
    this.shoots.forget(rollout);
  }
}
