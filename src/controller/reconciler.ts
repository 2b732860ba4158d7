// One reconcile of one CanaryRollout: observe (caches) -> decide (pure engine) -> persist the status with
// optimistic concurrency -> consume the operation annotation -> apply the effects -> repair.
//
// The status is written before the effects are applied: a decision that is not persisted is never acted on,
// and a conflict (409) just requeues; no blind retry. If the process dies between the status write and the
// effects, the repair step of the next reconcile converges the seeds to what the status records (promoted seeds
// carry the target chart; a halted wave's seeds carry the emergency stop), patching only what differs.
import * as k8s from '@kubernetes/client-node';
import type { CanaryRollout} from '../api/v1alpha1.js';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, API_VERSION, FINAL_PHASES, GROUP, KIND, PLURAL, VERSION, type CanaryRolloutStatus } from '../api/v1alpha1.js';
import { decide, type Decision } from '../engine/decide.js';
import type { Effect } from '../engine/effects.js';
import { observe } from '../engine/evaluate.js';
import { matchesSelector } from '../engine/selector.js';
import { extensionGate, handBackEffects, undoExtension, type Ctx } from '../engine/machine.js';
import { RELEASE_VALUE } from '../engine/extension.js';
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration, Gardenlet, ManagedSeed, Seed, Shoot } from '../gardener/api.js';
import { errorMessage, statusCode, type KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import type { Executor} from './executor.js';
import { FIELD_MANAGER } from './executor.js';
import { handleRejected, type RejectedRollout } from './rejected.js';

export const FINALIZER = 'canary.gardener.cloud/finalizer';

export interface Caches {
  rollout(name: string): CanaryRollout | undefined;
  rollouts(): CanaryRollout[];
  seeds(): Seed[];
  managedSeeds(): ManagedSeed[];
  shoots(): Shoot[];
  gardenlets(): Gardenlet[];
  registrations(): ControllerRegistration[];
  deployments(): ControllerDeployment[];
  installations(): ControllerInstallation[];
  /** A stored rollout the schema rejects (rejected.ts); `rollout` does not return it. */
  rejected?(name: string): RejectedRollout | undefined;
}

export interface ReconcileResult {
  requeueAfterMs?: number | undefined;
  decision?: Decision;
  conflict?: boolean;
}

/** Who set the operation annotation: the field manager that owns it (kubectl-annotate, a GitOps tool, ...). */
export function operationActor(meta: { managedFields?: { manager?: string; fieldsV1?: unknown }[] }): string | undefined {
  for (const mf of meta.managedFields ?? []) {
    const annotations = (mf.fieldsV1 as { 'f:metadata'?: { 'f:annotations'?: Record<string, unknown> } } | undefined)?.['f:metadata']?.['f:annotations'];
    if (annotations && `f:${ANNOTATION_OPERATION}` in annotations) return mf.manager;
  }
  return undefined;
}

export class Reconciler {
  private readonly objects: k8s.CustomObjectsApi;
  /** Status and metadata writes of CanaryRollouts, for metrics. */
  statusWrites = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly caches: Caches,
    private readonly executor: Executor,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly onDecision?: (name: string, d: Decision) => void,
  ) {
    this.objects = client.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const cr = this.caches.rollout(name);
    const rejected = cr ? undefined : this.caches.rejected?.(name);
    if (rejected) return handleRejected(rejected, { client: this.client, executor: this.executor, log: this.log, now: this.now(), finalizer: FINALIZER });
    if (!cr) return {};
    const meta = cr.metadata as CanaryRollout['metadata'] & { finalizers?: string[]; deletionTimestamp?: string; managedFields?: { manager?: string; fieldsV1?: unknown }[] };
    const ref = { name, ...(meta.uid ? { uid: meta.uid } : {}) };

    if (meta.deletionTimestamp) {
      if (!meta.finalizers?.includes(FINALIZER)) return {};
      const cleaned = await this.executor.cleanup(ref);
      await this.jsonPatch(name, [
        { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion },
        { op: 'replace', path: '/metadata/finalizers', value: meta.finalizers.filter((f) => f !== FINALIZER) },
      ]);
      this.log.info('rollout deleted, marks and emergency stops removed', { rollout: name, seeds: cleaned });
      return {};
    }
    if (!meta.finalizers?.includes(FINALIZER)) {
      await this.jsonPatch(name, [
        { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion },
        { op: 'add', path: '/metadata/finalizers', value: [...(meta.finalizers ?? []), FINALIZER] },
      ]);
      return { requeueAfterMs: 0 };
    }

    const opValue = meta.annotations?.[ANNOTATION_OPERATION];
    const reason = meta.annotations?.[ANNOTATION_REASON];
    // a finished rollout is done with the landscape: it neither decides nor repairs any more (an operation on it is
    // still recorded, as not allowed)
    if (!opValue && FINAL_PHASES.has(cr.status?.phase ?? '')) {
      // except to finish undoing what an extension rollout put in place, should a crash have cut that short
      await this.executor.apply(ref, repairs(cr.spec, cr.status!));
      return {};
    }
    const actor = operationActor(meta);
    const observation = observe(
      this.caches.seeds(),
      this.caches.managedSeeds(),
      this.caches.shoots(),
      this.caches.gardenlets(),
      cr.spec.target.extension ? { registrations: this.caches.registrations(), deployments: this.caches.deployments(), installations: this.caches.installations() } : undefined,
    );
    const heldSeeds = seedsHeldByOthers(cr, this.caches.rollouts(), observation.seeds);
    const decision = decide({
      heldSeeds,
      spec: cr.spec,
      generation: meta.generation ?? 0,
      status: cr.status,
      ...(opValue ? { operation: { value: opValue, ...(reason ? { reason } : {}), ...(actor ? { actor } : {}) } } : {}),
      observation,
      now: this.now(),
    });

    // 1. persist the decision; a conflict means we decided on stale data: requeue. Nothing changed: no write.
    const unchanged = !opValue && decision.effects.length === 0 && JSON.stringify(cr.status) === JSON.stringify(decision.status);
    if (unchanged) {
      await this.executor.apply(ref, repairs(cr.spec, decision.status));
      return { requeueAfterMs: decision.requeueAfterMs, decision };
    }
    try {
      this.statusWrites++;
      await this.objects.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
        body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, resourceVersion: meta.resourceVersion }, spec: cr.spec, status: decision.status },
        fieldManager: FIELD_MANAGER,
      });
    } catch (err) {
      if (statusCode(err) === 409) {
        this.log.debug('status conflict, requeueing', { rollout: name });
        return { requeueAfterMs: 0, conflict: true };
      }
      throw err;
    }
    this.onDecision?.(name, decision);
    for (const note of decision.notes) this.log.info('decision', { rollout: name, phase: decision.status.phase, note });

    // 2. consume the one-shot operation, only if it is still the one we acted on
    if (opValue) {
      try {
        await this.jsonPatch(name, [
          { op: 'test', path: `/metadata/annotations/${ANNOTATION_OPERATION.replace('/', '~1')}`, value: opValue },
          { op: 'remove', path: `/metadata/annotations/${ANNOTATION_OPERATION.replace('/', '~1')}` },
          ...(reason !== undefined ? [{ op: 'remove', path: `/metadata/annotations/${ANNOTATION_REASON.replace('/', '~1')}` }] : []),
        ]);
      } catch (err) {
        if (statusCode(err) !== 422) throw err; // 422: a newer operation replaced it; it runs next
      }
    }

    // 3. act, then 4. repair what an earlier crash may have left half done
    await this.executor.apply(ref, decision.effects);
    await this.executor.apply(ref, repairs(cr.spec, decision.status));
    return { requeueAfterMs: decision.requeueAfterMs, decision };
  }

  private async jsonPatch(name: string, ops: object[]): Promise<void> {
    this.statusWrites++;
    try {
      await this.objects.patchClusterCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, name, body: ops, fieldManager: FIELD_MANAGER },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
    } catch (err) {
      throw new Error(`patching CanaryRollout ${name}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

/** Effects that converge the seeds to what the status records; the executor skips what is already so. */
export function repairs(spec: CanaryRollout['spec'], status: CanaryRolloutStatus): Effect[] {
  const ctx = (status.machine?.state as { context?: Omit<Ctx, 'plan' | 'history'> } | undefined)?.context;
  if (!ctx) return [];
  if (spec.target.extension) return extensionRepairs(spec, status, ctx);
  const g = spec.target.gardenlet;
  if (!g) return [];
  const out: Effect[] = [];
  const phase = status.phase;
  // only a rollout in flight holds seeds at its version; a finished or rolling back one leaves them alone
  if (phase !== 'Progressing' && phase !== 'Paused' && phase !== 'Halted') return out;
  for (const [name, s] of Object.entries(ctx.seeds)) {
    if (s.promotedAt && s.root === name && !s.vanished) out.push({ type: 'promoteSeed', seed: name, ociRepository: g.ociRepository, version: g.version });
  }
  if (phase === 'Halted' && spec.onHalt.emergencyStop) out.push(...haltedWaveStops(ctx));
  return out;
}

function haltedWaveStops(ctx: Omit<Ctx, 'plan' | 'history'>): Effect[] {
  return Object.entries(ctx.seeds)
    .filter(([, s]) => s.wave === ctx.current && !s.vanished)
    .map(([seed]) => ({ type: 'emergencyStopSeed' as const, seed }));
}

/**
 * Extension targets. In flight: the gate stands (unreleased seeds held or unlabelled, the new content live) and
 * released seeds stay released. Handing back (SeedSelector): the original deployment has the new content and no
 * seed is labelled. Succeeded or rolled back: nothing of the rollout is left (holds, temporary objects, gate).
 * Aborted with Freeze leaves everything latched; RollingBack is driven by the machine.
 */
function extensionRepairs(spec: CanaryRollout['spec'], status: CanaryRolloutStatus, ctx: Omit<Ctx, 'plan' | 'history'>): Effect[] {
  const ext = status.extension;
  if (!ext) return [];
  const value = (status.machine?.state as { value?: unknown } | undefined)?.value;
  const phase = status.phase;
  const seeds = Object.entries(ctx.seeds)
    .filter(([, s]) => !s.vanished)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const tmp = ext.temporary;
  if (phase === 'Succeeded' || phase === 'RolledBack') return undoExtension({ extension: ext, seeds: ctx.seeds });
  if (value === 'completing') return handBackEffects(ext, spec, seeds.map(([seed]) => seed));
  if (phase !== 'Progressing' && phase !== 'Paused' && phase !== 'Halted') return [];
  const out: Effect[] = extensionGate(
    ext,
    spec,
    seeds.filter(([, s]) => !s.promotedAt).map(([seed]) => seed),
  );
  if (tmp) {
    for (const [seed, s] of seeds) if (s.promotedAt) out.push({ type: 'labelSeed', seed, key: tmp.seedLabel, value: RELEASE_VALUE });
  } else {
    const haltStops = phase === 'Halted' && spec.onHalt.emergencyStop;
    for (const [seed, s] of seeds) if (s.promotedAt && !(haltStops && s.wave === ctx.current)) out.push({ type: 'releaseSeed', seed });
  }
  if (phase === 'Halted' && spec.onHalt.emergencyStop) out.push(...haltedWaveStops(ctx));
  return out;
}

const IN_FLIGHT = new Set(['Planning', 'Progressing', 'Paused', 'Halted', 'Failed', 'RollingBack']);

function sameTarget(a: CanaryRollout['spec']['target'], b: CanaryRollout['spec']['target']): boolean {
  // (a ControllerDeployment is one object for the whole landscape: its rollouts hold every seed, see below)
  if (a.gardenlet && b.gardenlet) return true;
  return !!a.extension && !!b.extension && a.extension.controllerDeployment === b.extension.controllerDeployment;
}

/** Seeds that other rollouts of the same target hold: their plan while in flight, their scope if older and not started. */
export function seedsHeldByOthers(me: CanaryRollout, all: readonly CanaryRollout[], seeds: readonly { name: string; labels: Record<string, string>; deleting: boolean }[]): Map<string, string> {
  const held = new Map<string, string>();
  const older = (o: CanaryRollout) => {
    const a = o.metadata.creationTimestamp ?? '';
    const b = me.metadata.creationTimestamp ?? '';
    return a < b || (a === b && o.metadata.name < me.metadata.name);
  };
  for (const o of all) {
    // a dry run touches nothing, so it holds nothing
    if (o.metadata.name === me.metadata.name || o.spec.dryRun || !sameTarget(o.spec.target, me.spec.target)) continue;
    const phase = o.status?.phase ?? 'Pending';
    // an extension rollout changes one landscape-wide ControllerDeployment: it holds every seed, whatever its scope
    const everywhere = !!o.spec.target.extension;
    if (IN_FLIGHT.has(phase) && o.status?.plan) {
      if (everywhere) for (const s of seeds) held.set(s.name, o.metadata.name);
      else for (const w of o.status.plan.waves) for (const s of w.seeds) held.set(s.name, o.metadata.name);
    } else if (phase === 'Pending' && older(o)) {
      for (const s of seeds) if (!s.deleting && (everywhere || matchesSelector(s.labels, o.spec.seedSelector))) held.set(s.name, o.metadata.name);
    }
  }
  return held;
}
