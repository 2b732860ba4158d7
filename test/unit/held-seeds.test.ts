import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { seedsHeldByOthers } from '../../src/engine/held-seeds.js';

describe('one writer per seed', () => {
  const seeds = ['a', 'b', 'c'].map((name) => ({ name, labels: { env: name === 'c' ? 'dev' : 'prod' }, deleting: false }));
  const cr = (name: string, created: string, over: Record<string, unknown> = {}, status?: Partial<CanaryRolloutStatus>) =>
    ({
      apiVersion: 'canary.gardener.cloud/v1alpha1',
      kind: 'CanaryRollout',
      metadata: { name, creationTimestamp: created },
      spec: CanaryRolloutSpec.parse({ target: { gardenlet: { ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' } }, waves: [{ name: 'all', percent: 100 }], ...over }),
      ...(status ? { status } : {}),
    }) as never;
  const plan = { computedAt: 't', seeds: 1, shoots: 0, waves: [{ name: 'all', seeds: [{ name: 'a', provider: 'p', region: 'r', shoots: 0 }], shoots: 0 }] };

  it('counts the plan of rollouts in flight and the scope of older ones not started; dry runs hold nothing', () => {
    const me = cr('me', '2026-11-23T10:00:00Z');
    expect(seedsHeldByOthers(me, [me, cr('running', '2026-11-23T11:00:00Z', {}, { phase: 'Halted', plan })], seeds)).toEqual(new Map([['a', 'running']]));
    expect(seedsHeldByOthers(me, [cr('older', '2026-11-23T09:00:00Z', { seedSelector: { matchLabels: { env: 'dev' } } })], seeds)).toEqual(new Map([['c', 'older']]));
    expect(seedsHeldByOthers(me, [cr('younger', '2026-11-23T11:00:00Z')], seeds).size).toBe(0);
    expect(seedsHeldByOthers(me, [cr('done', '2026-11-23T09:00:00Z', {}, { phase: 'Succeeded', plan })], seeds).size).toBe(0);
    expect(seedsHeldByOthers(me, [cr('preview', '2026-11-23T09:00:00Z', { dryRun: true })], seeds).size).toBe(0);
    const ext = { target: { extension: { controllerDeployment: 'provider-aws', version: 'v1.0.0', helm: { ociRepository: { ref: 'r/x:v1.0.0' } } } } };
    expect(seedsHeldByOthers(me, [cr('other-target', '2026-11-23T09:00:00Z', ext)], seeds).size).toBe(0);
  });

  it('keeps a rollout Pending with a Waiting condition while its seeds are held', async () => {
    const { World } = await import('../../src/sim/world.js');
    const { decide } = await import('../../src/engine/decide.js');
    const w = new World(1, 'v1.0.0', 'v2.0.0', { badSeeds: new Set(), badSeedFailureRate: 0, noiseRate: 0, userErrorShare: 0 });
    w.addSeed({ name: 'a', provider: 'p', region: 'r', labels: {} });
    const spec = CanaryRolloutSpec.parse({ target: { gardenlet: { ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' } }, waves: [{ name: 'all', percent: 100 }] });
    const d = decide({ spec, generation: 1, observation: w.observation(), now: new Date(w.now), heldSeeds: new Map([['a', 'other']]) });
    expect(d.status.phase).toBe('Pending');
    expect(d.events).toEqual([]);
    expect(d.status.conditions!.find((c) => c.type === 'Waiting')).toMatchObject({ status: 'True', reason: 'SeedsHeldByOtherRollout' });
    expect(d.status.message).toMatch(/rollout other holds 1 of the seeds/);
    const free = decide({ spec, generation: 1, observation: w.observation(), now: new Date(w.now), heldSeeds: new Map() });
    expect(free.status.phase).toBe('Planning');
  });
});
