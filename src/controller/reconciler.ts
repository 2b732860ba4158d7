// One reconcile of one CanaryRollout: observe (caches) -> decide (pure engine) -> persist the status with
// optimistic concurrency (only when it changed) -> consume the operation annotation -> converge the garden to what
// the persisted status says the rollout owes it (desired.ts), every time, whatever happened before.
//
// The status is written before anything is done about it: a decision that is not persisted is never acted on, and
// a conflict (409) requeues without converging (the cache is behind; acting on an older status could undo a newer
// one). Convergence is level-triggered: a write that failed, or was cut short by a crash between the status write and
// the writes that follow, is sent again by the next reconcile, because it is derived again from the status.
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import * as z from 'zod';
import type { CanaryRollout } from '../api/v1alpha1.js';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, API_VERSION, CanaryRollout as CanaryRolloutSchema, FINAL_PHASES, GROUP, KIND, PLURAL, VERSION, type CanaryRolloutStatus } from '../api/v1alpha1.js';
import { compactStatus } from '../engine/bounds.js';
import { decide, type Decision } from '../engine/decide.js';
import { deletionVerdict } from '../engine/deletion.js';
import { seedsHeldByOthers } from '../engine/held-seeds.js';
import { convergeEffects, desiredGarden, requeueAfter } from '../engine/desired.js';
import { observe, type Observation, type ShootFactsMemo } from '../engine/evaluate.js';
import type { InputFreshness } from '../engine/freshness.js';
import { sameStatus } from '../engine/status.js';
import type { GardenerInfo } from '../engine/preflight.js';
import { ANNOTATION_CONFIRM_DELETION, GARDENER_INFO, type ControllerDeployment, type ControllerInstallation, type ControllerRegistration, type Gardenlet, type ManagedSeed, type Seed, type Shoot } from '../gardener/api.js';
import { errorMessage, statusCode, type KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import type { Executor } from './executor.js';
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
  /** How fresh the caches behind an observation are (absent: not tracked). */
  freshness?(extension: boolean): InputFreshness;
  /** A stored rollout the schema rejects (rejected.ts); `rollout` does not return it. */
  rejected?(name: string): RejectedRollout | undefined;
  /** Changes whenever a cache an observation is built from changes (absent: every observation is built anew). */
  revision?(extension: boolean): string;
}

export interface ReconcileResult {
  requeueAfterMs?: number | undefined;
  decision?: Decision;
  conflict?: boolean;
  /** Writes convergence sent to the garden in this reconcile (0 once converged). */
  converged?: number;
}

/** The annotations a field manager owns, in its managedFields entry (fieldsV1). */
const AnnotationFields = z.object({ 'f:metadata': z.object({ 'f:annotations': z.record(z.string(), z.unknown()) }) });

/** What the reconciler reads of a rollout's metadata beyond its schema: finalizers, deletion, field managers. */
const Lifecycle = z.object({
  finalizers: z.array(z.string()).optional(),
  deletionTimestamp: z.string().optional(),
  managedFields: z.array(z.object({ manager: z.string().optional(), fieldsV1: z.unknown() })).optional(),
});

/** The document gardener-operator keeps in the gardener-info ConfigMap: what the version skew check reads of it. */
const GardenerInfoDoc = z.object({ version: z.string() });

/** Who set the operation annotation: the field manager that owns it (kubectl-annotate, a GitOps tool, ...). */
export function operationActor(meta: { managedFields?: { manager?: string; fieldsV1?: unknown }[] }): string | undefined {
  for (const mf of meta.managedFields ?? []) {
    const fields = AnnotationFields.safeParse(mf.fieldsV1);
    if (fields.success && `f:${ANNOTATION_OPERATION}` in fields.data['f:metadata']['f:annotations']) return mf.manager;
  }
  return undefined;
}

/** Our last write of a rollout, until the cache has caught up with it (it still has one of the versions we wrote over). */
interface Written {
  superseded: Set<string | undefined>;
  object: CanaryRollout;
}

export class Reconciler {
  private readonly objects: k8s.CustomObjectsApi;
  /** Status and metadata writes of CanaryRollouts, for metrics. */
  statusWrites = 0;
  private readonly written = new Map<string, Written>();
  /** The last observation built, for gardenlet (false) and extension (true) targets, with the caches' revision. */
  private readonly observed = new Map<boolean, { revision: string; observation: Observation }>();
  /** What each cached shoot object contributes to an observation, built once per object (evaluate.ts ShootFactsMemo). */
  private readonly shootFacts: ShootFactsMemo = new WeakMap();

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

  /**
   * The rollout as of our own last write if the cache has not seen it yet: deciding from the cache then would send
   * the same status again against an old resourceVersion, into a 409 loop until the watch catches up.
   */
  private current(name: string): CanaryRollout | undefined {
    const cached = this.caches.rollout(name);
    const w = this.written.get(name);
    if (!cached) {
      this.written.delete(name);
      return undefined;
    }
    if (w && w.superseded.has(cached.metadata.resourceVersion)) return w.object;
    this.written.delete(name);
    return cached;
  }

  /** Records a write of ours over `from` (and over every version that one superseded). */
  private remember(name: string, from: string | undefined, raw: unknown): void {
    const parsed = CanaryRolloutSchema.safeParse(raw);
    if (!parsed.success) return;
    const superseded = new Set(this.written.get(name)?.superseded ?? []);
    superseded.add(from);
    this.written.set(name, { superseded, object: parsed.data });
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const cr = this.current(name);
    const rejected = cr ? undefined : this.caches.rejected?.(name);
    if (rejected) return handleRejected(rejected, { client: this.client, executor: this.executor, log: this.log, now: this.now(), finalizer: FINALIZER });
    if (!cr) {
      this.executor.forget(name);
      return {};
    }
    const meta = { ...cr.metadata, ...Lifecycle.parse(cr.metadata) };
    const ref = { name, ...(meta.uid ? { uid: meta.uid } : {}) };
    if (!meta.deletionTimestamp && !meta.finalizers?.includes(FINALIZER)) {
      await this.jsonPatch(name, meta.resourceVersion, [
        { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion },
        { op: 'add', path: '/metadata/finalizers', value: [...(meta.finalizers ?? []), FINALIZER] },
      ]);
      return { requeueAfterMs: 0 };
    }
    const landscape = this.observe(cr);
    const gardenerInfo = await this.gardenerInfo(cr);
    const observation = gardenerInfo ? { ...landscape, gardenerInfo } : landscape;

    let deletionBlocked: string | undefined;
    if (meta.deletionTimestamp) {
      if (!meta.finalizers?.includes(FINALIZER)) return {};
      const verdict = deletionVerdict(cr.spec, cr.status, desiredGarden(cr.spec, cr.status, observation), meta.annotations?.[ANNOTATION_CONFIRM_DELETION] === 'true');
      if (verdict.allowed) {
        const cleaned = await this.executor.cleanup(ref);
        await this.jsonPatch(name, meta.resourceVersion, [
          { op: 'test', path: '/metadata/resourceVersion', value: meta.resourceVersion },
          { op: 'replace', path: '/metadata/finalizers', value: meta.finalizers.filter((f) => f !== FINALIZER) },
        ]);
        this.log.info('rollout deleted, marks and emergency stops removed', { rollout: name, seeds: cleaned, note: verdict.message });
        return {};
      }
      deletionBlocked = verdict.message; // it keeps converging (and obeying operations) while it waits
    }

    const opValue = meta.annotations?.[ANNOTATION_OPERATION];
    const reason = meta.annotations?.[ANNOTATION_REASON];
    let persisted = cr.status;
    let decision: Decision | undefined;
    let events: Decision['events'] = [];
    // a finished rollout decides nothing any more (an operation on it is still recorded, as not allowed); it still
    // converges: what it owes after the end (stops lifted, temporary objects gone, reconciles after a revert)
    if (opValue || !FINAL_PHASES.has(cr.status?.phase ?? '') || deletionBlocked) {
      const actor = operationActor(meta);
      decision = decide({
        heldSeeds: seedsHeldByOthers(cr, this.caches.rollouts(), observation.seeds),
        spec: cr.spec,
        generation: meta.generation ?? 0,
        status: cr.status,
        ...(opValue ? { operation: { value: opValue, ...(reason ? { reason } : {}), ...(actor ? { actor } : {}) } } : {}),
        observation,
        now: this.now(),
        deletionBlocked,
      });
      if (opValue || !sameStatus(cr.status, decision.status)) {
        const written = await this.writeStatus(cr, decision.status);
        if (!written) return { requeueAfterMs: 0, conflict: true };
        persisted = decision.status;
        this.onDecision?.(name, decision);
        for (const note of decision.notes) this.log.info('decision', { rollout: name, phase: decision.status.phase, note });
        if (opValue) await this.consumeOperation(cr, opValue, reason);
        events = decision.events;
      }
    }

    const desired = desiredGarden(cr.spec, persisted, observation);
    let converged: Awaited<ReturnType<Executor['apply']>>;
    try {
      converged = await this.executor.apply(ref, convergeEffects(desired));
    } finally {
      // the decision's events go out after its effects (a halt's emergency stop does not wait for its Event), and
      // also when applying an effect failed: the status that records the decision is written already
      if (events.length) await this.executor.apply(ref, events);
    }
    return { requeueAfterMs: requeueAfter(decision?.requeueAfterMs, desired, this.executor.nextReconcileInMs(name, desired.reconciles.maxPerMinute)), ...(decision ? { decision } : {}), converged };
  }

  /**
   * gardener-apiserver's version for a gardenlet rollout's version skew check (preflight.ts): read, one GET, only while
   * the rollout has not been planned. A failed read is said in condition Waiting and keeps the rollout from starting.
   */
  private async gardenerInfo(cr: CanaryRollout): Promise<GardenerInfo | undefined> {
    if (!cr.spec.target.gardenlet || (cr.status?.phase ?? 'Pending') !== 'Pending') return undefined;
    const where = `ConfigMap ${GARDENER_INFO.namespace}/${GARDENER_INFO.name}`;
    try {
      const cm = await this.client.core.readNamespacedConfigMap({ name: GARDENER_INFO.name, namespace: GARDENER_INFO.namespace });
      const doc = GardenerInfoDoc.safeParse(yaml.load(cm.data?.[GARDENER_INFO.key] ?? ''));
      return doc.success ? { version: doc.data.version } : { problem: `${where} has no ${GARDENER_INFO.key}.version` };
    } catch (err) {
      if (statusCode(err) === 404) return { problem: `${where} not found (gardener-operator writes it; gardenlet does not start without it)` };
      return { problem: `reading ${where} failed: ${errorMessage(err)}` };
    }
  }

  private observe(cr: CanaryRollout): Observation {
    const extension = !!cr.spec.target.extension;
    const inputs = this.caches.freshness?.(extension);
    const observation = this.observeLandscape(extension);
    return inputs ? { ...observation, inputs } : observation;
  }

  /**
   * The landscape as the engine reads it, built again only when a cache behind it changed: every rollout's
   * reconcile, requeue and resync in between reads the same one (at 20,000 shoots a build takes 5-10 ms).
   */
  private observeLandscape(extension: boolean): Observation {
    const revision = this.caches.revision?.(extension);
    const memo = this.observed.get(extension);
    if (revision !== undefined && memo?.revision === revision) return memo.observation;
    const observation = observe(
      this.caches.seeds(),
      this.caches.managedSeeds(),
      this.caches.shoots(),
      this.caches.gardenlets(),
      extension ? { registrations: this.caches.registrations(), deployments: this.caches.deployments(), installations: this.caches.installations() } : undefined,
      // the caches replace a shoot object on every change and never change one in place
      this.shootFacts,
    );
    if (revision !== undefined) this.observed.set(extension, { revision, observation });
    return observation;
  }

  /**
   * Writes the status against the resourceVersion it was decided from; false on a conflict. A status the API server
   * refuses for its size is written again compacted (bounds.ts): what the decisions rest on always fits, so a halt
   * or an abort is never stuck behind the per-seed details.
   */
  private async writeStatus(cr: CanaryRollout, status: CanaryRolloutStatus): Promise<boolean> {
    try {
      return await this.replaceStatus(cr, status);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      this.log.error('status too large for the API server, writing it compacted', err, { rollout: cr.metadata.name, bytes: JSON.stringify(status).length });
      return this.replaceStatus(cr, compactStatus(status, this.now()));
    }
  }

  private async replaceStatus(cr: CanaryRollout, status: CanaryRolloutStatus): Promise<boolean> {
    const name = cr.metadata.name;
    try {
      this.statusWrites++;
      const res = await this.objects.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name,
        body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, resourceVersion: cr.metadata.resourceVersion }, spec: cr.spec, status },
        fieldManager: FIELD_MANAGER,
      });
      this.remember(name, cr.metadata.resourceVersion, res);
      return true;
    } catch (err) {
      if (statusCode(err) === 409) {
        this.log.debug('status conflict, requeueing', { rollout: name });
        return false;
      }
      throw new Error(`writing the status of CanaryRollout ${name}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Removes the one-shot operation, only if it is still the one acted on (a newer one runs next). */
  private async consumeOperation(cr: CanaryRollout, opValue: string, reason: string | undefined): Promise<void> {
    const key = (k: string) => `/metadata/annotations/${k.replace('/', '~1')}`;
    try {
      // (over the status we just wrote: that is the version the cache may show next)
      const from = this.written.get(cr.metadata.name)?.object.metadata.resourceVersion ?? cr.metadata.resourceVersion;
      await this.jsonPatch(cr.metadata.name, from, [
        { op: 'test', path: key(ANNOTATION_OPERATION), value: opValue },
        { op: 'remove', path: key(ANNOTATION_OPERATION) },
        ...(reason !== undefined ? [{ op: 'remove', path: key(ANNOTATION_REASON) }] : []),
      ]);
    } catch (err) {
      if (statusCode(err) !== 422 && !(err instanceof Error && statusCode(err.cause) === 422)) throw err;
    }
  }

  private async jsonPatch(name: string, fromResourceVersion: string | undefined, ops: object[]): Promise<void> {
    this.statusWrites++;
    try {
      const res = await this.objects.patchClusterCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, name, body: ops, fieldManager: FIELD_MANAGER },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
      this.remember(name, fromResourceVersion, res);
    } catch (err) {
      throw new Error(`patching CanaryRollout ${name}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

/** The API server refused an object for its size (413, or etcd's "request is too large"). */
function tooLarge(err: unknown): boolean {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  return statusCode(cause) === 413 || /too large/i.test(errorMessage(cause));
}

