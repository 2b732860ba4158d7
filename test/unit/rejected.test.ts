// Rollouts the API server stored but the controller's schema rejects (stored before a rule existed, e.g. a name
// with a dot): the reconciler says why on the status and touches nothing else; on deletion it still cleans up.
import { describe, expect, it } from '@jest/globals';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import type { Executor } from '../../src/controller/executor.js';
import { FINALIZER, Reconciler, type Caches } from '../../src/controller/reconciler.js';
import { REJECTED_REASON, rejectedRollout, type RejectedRollout } from '../../src/controller/rejected.js';
import type { KubeClient } from '../../src/kube/client.js';
import { createLogger } from '../../src/util/log.js';
import { validSpec } from '../support/invalid-specs.js';

const NOW = new Date('2026-03-04T05:06:07.000Z');

function stored(name: string, extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown>; status?: Record<string, unknown> } = {}) {
  return {
    apiVersion: 'canary.gardener.cloud/v1alpha1',
    kind: 'CanaryRollout',
    metadata: { name, uid: 'u-1', resourceVersion: '42', generation: 3, finalizers: [FINALIZER], ...extra.metadata },
    spec: { ...validSpec(), ...extra.spec },
    status: { phase: 'Progressing', conditions: [{ type: 'Progressing', status: 'True', reason: 'Progressing', message: 'wave canary', lastTransitionTime: '2026-01-01T00:00:00Z' }], ...extra.status },
  };
}

function rejected(raw: unknown): RejectedRollout {
  const r = CanaryRollout.safeParse(raw);
  expect(r.success).toBe(false);
  return rejectedRollout(raw, r.error!)!;
}

/** A reconciler whose caches hold only `r`, with a client and executor that record what they are asked. */
function harness(r: RejectedRollout) {
  const calls: { kind: string; name: string; body: unknown }[] = [];
  const client = {
    kubeConfig: { makeApiClient: () => ({}) },
    patchStatus: (_rt: unknown, name: string, body: unknown) => (calls.push({ kind: 'patchStatus', name, body }), Promise.resolve({})),
    jsonPatch: (_rt: unknown, name: string, body: unknown) => (calls.push({ kind: 'jsonPatch', name, body }), Promise.resolve({})),
  } as unknown as KubeClient;
  const executor = {
    apply: () => Promise.reject(new Error('a rejected rollout must not act on the landscape')),
    cleanup: (ref: { name: string }) => (calls.push({ kind: 'cleanup', name: ref.name, body: ref }), Promise.resolve(2)),
  } as unknown as Executor;
  const none = () => [];
  const caches: Caches = { rollout: () => undefined, rollouts: none, seeds: none, managedSeeds: none, shoots: none, gardenlets: none, registrations: none, deployments: none, installations: none, rejected: (n) => (n === r.name ? r : undefined) };
  return { calls, reconciler: new Reconciler(client, caches, executor, createLogger({ level: 'error' }), () => NOW) };
}

describe('rejected rollouts', () => {
  it('say on their status why they are not reconciled, keeping the other conditions', async () => {
    const r = rejected(stored('gardenlet.v1-150'));
    expect(r.problems).toMatch(/^metadata\.name must be a DNS label/);
    const { calls, reconciler } = harness(r);
    expect(await reconciler.reconcile('gardenlet.v1-150')).toEqual({});
    expect(calls).toHaveLength(1);
    const body = calls[0]!.body as { metadata: { resourceVersion: string }; status: { message: string; conditions: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[] } };
    expect(calls[0]!.kind).toBe('patchStatus');
    expect(body.metadata.resourceVersion).toBe('42');
    expect(body.status.message).toMatch(/^not reconciled: .*metadata\.name must be a DNS label/);
    expect(body.status.conditions.map((c) => c.type)).toEqual(['Progressing', 'Degraded']);
    expect(body.status.conditions[1]).toMatchObject({ status: 'True', reason: REJECTED_REASON, observedGeneration: 3, lastTransitionTime: NOW.toISOString() });
    expect(body.status.conditions[1]!.message).toContain('metadata.name must be a DNS label');
  });

  it('write nothing when the status already says so', async () => {
    const first = harness(rejected(stored('a.b')));
    await first.reconciler.reconcile('a.b');
    const { conditions } = (first.calls[0]!.body as { status: { conditions: unknown[] } }).status;
    const again = harness(rejected(stored('a.b', { status: { conditions } })));
    await again.reconciler.reconcile('a.b');
    expect(again.calls).toEqual([]);
  });

  it('name every field the schema rejects, e.g. a duration stored before the bound', async () => {
    const r = rejected(stored('ok-name', { spec: { progressDeadline: '99999999999999999999h', bake: '9000h' } }));
    expect(r.problems).toMatch(/spec\.bake: must be at most 8760h/);
    expect(r.problems).toMatch(/spec\.progressDeadline: must be a duration/);
    const { calls, reconciler } = harness(r);
    await reconciler.reconcile('ok-name');
    expect((calls[0]!.body as { status: { message: string } }).status.message).toMatch(/spec\.bake: must be at most 8760h/);
  });

  it('are cleaned up and let go when deleted', async () => {
    const r = rejected(stored('a.b', { metadata: { deletionTimestamp: '2026-03-04T05:00:00Z', finalizers: ['other', FINALIZER] } }));
    const { calls, reconciler } = harness(r);
    await reconciler.reconcile('a.b');
    expect(calls.map((c) => c.kind)).toEqual(['cleanup', 'jsonPatch']);
    expect(calls[0]!.body).toEqual({ name: 'a.b', uid: 'u-1' });
    expect(calls[1]!.body).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'replace', path: '/metadata/finalizers', value: ['other'] },
    ]);
  });
});
