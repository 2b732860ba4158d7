// CanaryRollouts the API server keeps but this controller's schema rejects: objects stored before a rule existed
// (a name with a dot, a duration over a year). The controller does not guess what they mean and does not act on
// the landscape for them; it says so on the object (condition Degraded=True, reason SchemaRejected, and
// status.message), and when such a rollout is deleted it still removes the seed marks and emergency stops it set.
import type * as z from 'zod';
import type { Condition } from '../api/v1alpha1.js';
import { formatPath } from '../api/rules.js';
import { capText, MAX_DETAIL_BYTES, MAX_MESSAGE_BYTES } from '../engine/bounds.js';
import { RESOURCES, statusCode, type KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';
import type { Executor } from './executor.js';

export const REJECTED_REASON = 'SchemaRejected';

/** What the controller keeps of a rejected rollout: enough to report on it and to let it go. */
export interface RejectedRollout {
  name: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deleting: boolean;
  finalizers: string[];
  /** status.conditions as stored (kept as they are, but for Degraded). */
  conditions: Condition[];
  /** The schema's issues, in one line. */
  problems: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The rejected rollout, or undefined when the object has no name to report on. */
export function rejectedRollout(raw: unknown, error: z.ZodError): RejectedRollout | undefined {
  const o = isRecord(raw) ? raw : {};
  const meta = isRecord(o.metadata) ? o.metadata : {};
  const stored = isRecord(o.status) ? o.status.conditions : undefined;
  const name = str(meta.name);
  if (!name) return undefined;
  const problems = error.issues.map((i) => (i.path.length ? `${formatPath(i.path)}: ${i.message}` : i.message)).join('; ');
  const uid = str(meta.uid);
  const resourceVersion = str(meta.resourceVersion);
  const generation = typeof meta.generation === 'number' ? meta.generation : undefined;
  // kept as stored (they are written back), only those with a type
  const conditions = Array.isArray(stored) ? (stored as Condition[]).filter((c) => typeof c?.type === 'string') : [];
  return {
    name,
    ...(uid ? { uid } : {}),
    ...(resourceVersion ? { resourceVersion } : {}),
    ...(generation !== undefined ? { generation } : {}),
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    finalizers: Array.isArray(meta.finalizers) ? meta.finalizers.filter((f): f is string => typeof f === 'string') : [],
    conditions,
    problems,
  };
}

export function rejectedMessage(problems: string): string {
  return (
    `not reconciled: this CanaryRollout does not pass the controller's schema (it was stored before the API server enforced it): ${problems}. ` +
    'Correct what may change, or delete the rollout (its seed marks and emergency stops are removed) and create it anew'
  );
}

export interface RejectedDeps {
  client: KubeClient;
  executor: Executor;
  log: Logger;
  now: Date;
  finalizer: string;
}

/** One reconcile of a rejected rollout: the condition that says why, or the finalizer's cleanup on deletion. */
export async function handleRejected(r: RejectedRollout, deps: RejectedDeps): Promise<{ requeueAfterMs?: number; conflict?: boolean }> {
  const rt = RESOURCES.canaryRollouts;
  try {
    if (r.deleting) {
      if (!r.finalizers.includes(deps.finalizer)) return {};
      const cleaned = await deps.executor.cleanup({ name: r.name, ...(r.uid ? { uid: r.uid } : {}) });
      await deps.client.jsonPatch(rt, r.name, [
        { op: 'test', path: '/metadata/resourceVersion', value: r.resourceVersion },
        { op: 'replace', path: '/metadata/finalizers', value: r.finalizers.filter((f) => f !== deps.finalizer) },
      ]);
      deps.log.info('rejected rollout deleted, marks and emergency stops removed', { rollout: r.name, seeds: cleaned });
      return {};
    }
    const message = rejectedMessage(r.problems);
    const detail = capText(message, MAX_DETAIL_BYTES);
    const old = r.conditions.find((c) => c.type === 'Degraded');
    if (old?.status === 'True' && old.reason === REJECTED_REASON && old.message === detail) return {};
    const degraded: Condition = {
      type: 'Degraded',
      status: 'True',
      reason: REJECTED_REASON,
      message: detail,
      lastTransitionTime: old?.status === 'True' ? old.lastTransitionTime : deps.now.toISOString(),
      ...(r.generation !== undefined ? { observedGeneration: r.generation } : {}),
    };
    const conditions = [...r.conditions.filter((c) => c.type !== 'Degraded'), degraded];
    await deps.client.patchStatus(rt, r.name, { metadata: { resourceVersion: r.resourceVersion }, status: { message: capText(message, MAX_MESSAGE_BYTES), conditions } });
    deps.log.info('rejected rollout: said why on its status', { rollout: r.name, problems: r.problems });
    return {};
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return {}; // gone
    if (code === 409 || code === 422) return { requeueAfterMs: 0, conflict: true }; // changed since we saw it
    throw err;
  }
}
