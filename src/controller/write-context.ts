// What the executor's parts (seed-marks.ts, extension-objects.ts, shoot-requests.ts) share: the client, the caches
// they look at before every write, the write count, and the helpers of compare-and-swap writes.
import type { ControllerDeployment, ControllerRegistration, Gardenlet, ManagedSeed, Seed } from '../gardener/api.js';
import { statusCode, type KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export const GARDEN_NAMESPACE = 'garden';
/** Conflicts retried on compare-and-swap writes before the reconcile gives up (and is retried with backoff). */
export const CAS_ATTEMPTS = 3;

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

export interface RolloutRef {
  name: string;
  uid?: string;
}

/** The executor's parts write through this. */
export interface WriteContext {
  readonly client: KubeClient;
  readonly caches: ExecutorCaches;
  readonly log: Logger;
  /** Counts a write of `kind` (metrics and tests). */
  count(kind: string): void;
}

export function isConflict(err: unknown): boolean {
  // 409 for a resourceVersion precondition; 422 for a failed JSON patch `test`
  const code = statusCode(err);
  return code === 409 || code === 422;
}

/** JSON patch ops that set (value) or remove (null) annotations, given the current ones. */
export function annotationOps(current: Record<string, string>, want: Record<string, string | null>): object[] {
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
