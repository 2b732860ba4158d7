import { describe, expect, it } from '@jest/globals';
import type { CanaryRollout } from '../../src/api/v1alpha1.js';
import { ControllerMetrics, type MetricSources } from '../../src/controller/metrics.js';
import type { CacheHealth } from '../../src/kube/reflector.js';

const cache = (watches: number): CacheHealth => ({
  resource: 'seeds',
  hasSynced: true,
  confirmedAt: undefined,
  size: 3,
  stats: { lists: 1, listErrors: 0, watches, watchErrors: 0, idleWatches: 0, gone: 0, probes: 0, probeErrors: 0 },
});

const rollout = (name: string): CanaryRollout =>
  ({
    metadata: { name },
    spec: {},
    status: { phase: 'Progressing', currentWave: 1, waves: [{ name: 'w0', counts: { healthy: 3, unhealthy: 1 } }], conditions: [{ type: 'InputsStale', status: 'True' }] },
  }) as unknown as CanaryRollout;

describe('ControllerMetrics', () => {
  it('reads the rollouts and counts at scrape time: a deleted rollout has no series, _total series are counters', async () => {
    let rollouts = [rollout('a'), rollout('b')];
    let writes = 2;
    let watches = 1;
    const sources: MetricSources = {
      rollouts: () => rollouts,
      caches: () => ({ seeds: cache(watches) }),
      stuckReconciles: () => 0,
      isLeader: () => true,
      leaderTransitions: () => ({ acquired: 1, lost: 0, released: 0 }),
      writes: () => writes,
      requests: () => 7,
      requestsByVerb: () => [{ verb: 'list', resource: 'seeds', count: 4 }],
    };
    const m = new ControllerMetrics(sources);
    let text = await m.registry.metrics();
    expect(text).toContain('canary_rollout_phase{rollout="b",phase="Progressing"} 1');
    expect(text).toContain('canary_rollout_wave_healthy_ratio{rollout="a",wave="w0"} 0.75');
    expect(text).toContain('canary_rollout_wave_sample_size{rollout="a",wave="w0"} 4');
    expect(text).toContain('canary_rollout_inputs_stale{rollout="a"} 1');
    expect(text).toMatch(/^canary_rollout_writes_total 2$/m);
    expect(text).toMatch(/^canary_rollout_api_requests_total\{kind="watch"\} 1$/m);
    expect(text).toMatch(/^canary_rollout_api_requests_by_verb_total\{verb="list",resource="seeds"\} 4$/m);
    expect(text).toMatch(/^canary_rollout_leader 1$/m);
    for (const name of ['writes', 'cache_operations', 'api_requests', 'api_requests_by_verb', 'leader_transitions']) expect(text).toContain(`# TYPE canary_rollout_${name}_total counter`);

    rollouts = [rollout('a')];
    writes = 5;
    watches = 3;
    text = await m.registry.metrics();
    expect(text).not.toContain('rollout="b"');
    expect(text).toMatch(/^canary_rollout_writes_total 5$/m);
    expect(text).toMatch(/^canary_rollout_api_requests_total\{kind="watch"\} 3$/m);
    expect(text).toMatch(/^canary_rollout_cache_operations_total\{resource="seeds",op="watch"\} 3$/m);
  });
});
