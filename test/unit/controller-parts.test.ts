import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { loadConfig } from '../../src/controller/config.js';
import { WorkQueue } from '../../src/controller/queue.js';
import { operationActor, repairs } from '../../src/controller/reconciler.js';
import { trimShoot } from '../../src/controller/trim.js';
import { shootStatus } from '../../src/sim/status.js';

describe('WorkQueue', () => {
  it('hands out due keys in order, one worker per key, and runs a key again when added while processing', async () => {
    let t = 1000;
    const q = new WorkQueue(100, 1000, () => t);
    q.add('b', 50);
    q.add('a');
    expect(await q.next()).toBe('a');
    q.add('a'); // while processing: remembered
    t += 60;
    expect(await q.next()).toBe('b');
    q.done('a');
    expect(await q.next()).toBe('a');
    q.done('a');
    q.done('b');
    expect(q.length).toBe(0);
  });

  it('keeps the earliest due time and backs off failures exponentially', () => {
    const q = new WorkQueue(100, 1000, () => 0);
    expect([q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x')]).toEqual([100, 200, 400, 800, 1000]);
    q.forget('x');
    expect(q.addRateLimited('x')).toBe(100);
  });

  it('returns undefined once closed', async () => {
    const q = new WorkQueue();
    const pending = q.next();
    q.close();
    expect(await pending).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('takes flags over environment and applies defaults', () => {
    const c = loadConfig(['--metrics-port', '9090', '--log-level=debug'], { KUBECONFIG: '/k', METRICS_PORT: '1', POD_NAME: 'pod-1' });
    expect(c).toEqual({ kubeconfig: '/k', metricsPort: 9090, logLevel: 'debug', resyncSeconds: 600, leaseNamespace: 'garden', leaseName: 'canary-rollout-controller', identity: 'pod-1' });
  });
  it.each([
    [['--metrics-port', 'abc'], /--metrics-port: /],
    [['--log-level', 'loud'], /--log-level: /],
    [['--resync-seconds', '1'], /--resync-seconds: /],
    [['--nope', '1'], /unknown flag --nope/],
    [['--metrics-port'], /needs a value/],
  ])('rejects %j with a message naming the flag', (argv, msg) => expect(() => loadConfig(argv, {})).toThrow(msg));
});

describe('trimShoot', () => {
  it('keeps what the engine reads and nothing else', () => {
    const raw = {
      apiVersion: 'core.gardener.cloud/v1beta1',
      kind: 'Shoot',
      metadata: { name: 's', namespace: 'garden-p', uid: 'u', resourceVersion: '5', labels: { a: 'b' }, managedFields: [{ manager: 'x' }] },
      spec: { seedName: 'seed', purpose: 'production', provider: { type: 'aws', workers: [{ name: 'w' }] }, kubernetes: { version: '1.33' } },
      status: shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health: 'unhealthy', errorCodes: ['ERR_INFRA_QUOTA_EXCEEDED'], now: new Date('2026-11-23T00:00:00Z') }),
    };
    const t = trimShoot(raw)!;
    expect(t.metadata).toEqual({ name: 's', namespace: 'garden-p' });
    expect(t.spec).toEqual({ provider: { type: 'aws' }, seedName: 'seed', purpose: 'production' });
    expect(t.status!.conditions![0]).toEqual({ type: 'APIServerAvailable', status: 'False', codes: ['ERR_INFRA_QUOTA_EXCEEDED'] });
    expect(t.status!.lastErrors).toEqual([{ description: '', codes: ['ERR_INFRA_QUOTA_EXCEEDED'] }]);
    expect(JSON.stringify(t).length).toBeLessThan(JSON.stringify(raw).length / 2);
  });
});

describe('operationActor', () => {
  it('names the field manager that set the operation annotation', () => {
    const meta = {
      managedFields: [
        { manager: 'canary-rollout-controller', fieldsV1: { 'f:status': {} } },
        { manager: 'kubectl-annotate', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:canary.gardener.cloud/operation': {} } } } },
      ],
    };
    expect(operationActor(meta)).toBe('kubectl-annotate');
    expect(operationActor({})).toBeUndefined();
  });
});

describe('repairs', () => {
  const spec = CanaryRolloutSpec.parse({ target: { gardenlet: { ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' } }, waves: [{ name: 'a', count: 1 }] });
  const status = (phase: string): CanaryRolloutStatus =>
    ({
      phase,
      machine: {
        version: 1,
        state: { value: 'x', context: { current: 0, waves: [], accepted: [], seeds: { s1: { wave: 0, root: 's1', promotedAt: 't' }, s2: { wave: 0, root: 's1', promotedAt: 't' }, s3: { wave: 0, root: 's3' } } } },
      },
    }) as unknown as CanaryRolloutStatus;
  it('re-asserts the chart of promoted roots while in flight, and the emergency stop while halted', () => {
    expect(repairs(spec, status('Progressing'))).toEqual([{ type: 'promoteSeed', seed: 's1', ociRepository: { ref: 'r/g:v2.0.0' }, version: 'v2.0.0' }]);
    expect(repairs(spec, status('Halted')).filter((e) => e.type === 'emergencyStopSeed').map((e) => (e as { seed: string }).seed)).toEqual(['s1', 's2', 's3']);
  });
  it('leaves seeds alone once the rollout is finished or rolling back', () => {
    for (const p of ['Succeeded', 'Aborted', 'RolledBack', 'RollingBack']) expect(repairs(spec, status(p))).toEqual([]);
  });
});
