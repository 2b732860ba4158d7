import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { loadConfig } from '../../src/controller/config.js';
import { WorkQueue } from '../../src/controller/queue.js';
import { operationActor } from '../../src/controller/reconciler.js';
import { sameStatus } from '../../src/engine/status.js';
import { trimShoot } from '../../src/gardener/trim.js';
import { requestVerb } from '../../src/kube/client.js';
import { computeShootStatus, failureExcused, REFUSED_ON_SEED, USER_ERROR_CODES } from '../../src/engine/health.js';
import { Shoot } from '../../src/gardener/api.js';
import { shootStatus } from '../../src/sim/status.js';
import { sortedJSON } from '../support/run-sim.js';

describe('WorkQueue', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

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
    let r = 0;
    const q = new WorkQueue(100, 1000, () => 0, () => r);
    expect([q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x')]).toEqual([100, 200, 400, 800, 1000]);
    expect(q.failuresOf('x')).toBe(5);
    q.forget('x');
    r = 1;
    expect(q.addRateLimited('x')).toBe(150); // jitter: up to half the delay more
  });

  it('does not run a failed key before its retry, not even when it changed while it ran, nor before Retry-After', async () => {
    // the queue's clock is t; jest's fake timers stand in for the timer next() sleeps on until the next due key
    jest.useFakeTimers();
    let t = 0;
    const q = new WorkQueue(100, 1000, () => t, () => 0);
    q.add('x');
    expect(await q.next()).toBe('x');
    q.add('x'); // an event while it runs
    expect(q.addRateLimited('x')).toBe(100);
    q.done('x');
    q.add('y', 10); // a delayed add (a landscape change) of another key is due first
    q.add('x', 10); // and of the failed key: not before its retry
    t = 50;
    expect(await q.next()).toBe('y');
    let next: string | undefined;
    const pending = q.next().then((k) => (next = k));
    await jest.advanceTimersByTimeAsync(49); // x is due at 100: not handed out at 50, nor when its timer has not fired
    expect(next).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1); // its timer fires, but the queue's clock still says 50
    expect(next).toBeUndefined();
    t = 100;
    q.add('z', 1_000); // any add wakes the workers, who see x due now
    await pending;
    expect(next).toBe('x');
    q.done('x');
    expect(q.addRateLimited('x', 2_000)).toBe(2_000); // Retry-After longer than the backoff
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
    expect(c).toEqual({ kubeconfig: '/k', metricsPort: 9090, logLevel: 'debug', resyncSeconds: 600, requestTimeoutSeconds: 30, workers: 4, cacheStaleSeconds: 30, stuckReconcileSeconds: 300, leaseNamespace: 'garden', leaseName: 'canary-rollout-controller', leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2, identity: 'pod-1', installCRD: true, listPageSize: 100 });
    expect(loadConfig(['--install-crd=false'], {}).installCRD).toBe(false);
  });
  it.each([
    [['--metrics-port', 'abc'], /--metrics-port: /],
    [['--log-level', 'loud'], /--log-level: /],
    [['--resync-seconds', '1'], /--resync-seconds: /],
    [['--renew-deadline-seconds', '15'], /--renew-deadline-seconds: must be less than --lease-duration-seconds/],
    [['--retry-period-seconds', '9'], /--retry-period-seconds: times 1.2/],
    [['--workers', '0'], /--workers: /],
    [['--nope', '1'], /unknown flag --nope/],
    [['--metrics-port'], /^flag --metrics-port needs a value$/],
    [['--rollout-selector', '-x'], /^flag --rollout-selector needs a value \(one that starts with - is written --rollout-selector=-value\)$/],
    [['--workers', '2', 'extra'], /^unexpected argument extra/],
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
    // a lastError's time tells a retried failure after an extension's release from one before it
    expect(t.status!.lastErrors).toEqual([{ description: '', codes: ['ERR_INFRA_QUOTA_EXCEEDED'], lastUpdateTime: '2026-11-23T00:00:00.000Z' }]);
    expect(t.status!.lastOperation!.description).toBeUndefined();
    expect(JSON.stringify(t).length).toBeLessThan(JSON.stringify(raw).length / 2);
  });

  it("keeps the owner's confineSpecUpdateRollout, and only when true", () => {
    const raw = (maintenance: unknown) => ({ metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' }, maintenance } });
    const window = { begin: '220000+0000', end: '230000+0000' };
    expect(trimShoot(raw({ confineSpecUpdateRollout: true, timeWindow: window, autoUpdate: { kubernetesVersion: true } }))!.spec.maintenance).toEqual({ confineSpecUpdateRollout: true });
    expect(trimShoot(raw({ confineSpecUpdateRollout: false, timeWindow: window }))!.spec.maintenance).toBeUndefined();
  });

  it('drops True conditions: every health verdict and user-error excuse stays what it is on the full object', () => {
    const healths = ['healthy', 'progressing', 'unknown', 'unhealthy'] as const;
    let compared = 0;
    for (const health of healths)
      for (const state of ['Succeeded', 'Processing', 'Error', 'Failed'] as const)
        for (const errorCodes of [undefined, ['ERR_INFRA_QUOTA_EXCEEDED'], ['ERR_CONFIGURATION_PROBLEM', 'ERR_OTHER']])
          for (const hibernated of [false, true]) {
            const raw = { metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status: shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health, lastOperationState: state, hibernated, ...(errorCodes ? { errorCodes } : {}), now: new Date('2026-11-23T00:00:00Z') }) };
            const full = Shoot.parse(raw);
            const trimmed = trimShoot(raw)!;
            expect(computeShootStatus(trimmed)).toBe(computeShootStatus(full));
            expect(failureExcused(trimmed, (c) => USER_ERROR_CODES.has(c))).toBe(failureExcused(full, (c) => USER_ERROR_CODES.has(c)));
            expect(trimmed.status?.conditions?.some((c) => c.status === 'True') ?? false).toBe(false);
            compared++;
          }
    expect(compared).toBe(96);
    const healthy = trimShoot({ metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status: shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health: 'healthy', now: new Date() }) })!;
    expect(healthy.status?.conditions).toBeUndefined();
  });

  it('shares one copy of values many shoots carry (namespace, seed, version, provider)', () => {
    const make = (name: string) => trimShoot(JSON.parse(JSON.stringify({ metadata: { name, namespace: 'garden-p' }, spec: { provider: { type: 'aws' }, seedName: 'seed' }, status: shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health: 'healthy', now: new Date() }) })))!;
    const [a, b] = [make('a'), make('b')];
    expect(a.spec.provider).toBe(b.spec.provider);
    expect(a.status!.gardener).toBe(b.status!.gardener);
    expect(Object.isFrozen(a.spec.provider)).toBe(true);
  });

  it("keeps a refused reconcile's description (the engine reads it) and drops every other", () => {
    const status = shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health: 'unhealthy', now: new Date('2026-11-23T00:00:00Z') });
    status.lastOperation!.description = `${REFUSED_ON_SEED} seed is not up to date: observed generation outdated (1/2)`;
    const t = trimShoot({ metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status })!;
    expect(t.status!.lastOperation!.description).toBe(REFUSED_ON_SEED);
  });

  it('keeps a shoot whose lastOperation type is newer than this controller (LiveMigrate) instead of dropping it', () => {
    const status = shootStatus({ seedName: 'seed', gardenerVersion: 'v1', health: 'healthy', now: new Date('2026-11-23T00:00:00Z') });
    (status.lastOperation as { type: string }).type = 'LiveMigrate';
    expect(trimShoot({ metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status })?.status?.lastOperation?.type).toBe('LiveMigrate');
    (status.lastOperation as { type: string }).type = 'SomethingNew';
    expect(trimShoot({ metadata: { name: 's', namespace: 'garden-p' }, spec: { provider: { type: 'aws' } }, status })?.status?.lastOperation?.type).toBe('SomethingNew');
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

describe('status comparison', () => {
  it('treats a status with sorted keys (as the API server returns it) as unchanged, and a changed value as changed', () => {
    const status = { phase: 'Progressing', message: 'm', currentWave: 1, waves: [{ name: 'w', phase: 'Baking', seedsPromoted: 1, seedsTotal: 2 }] } as unknown as CanaryRolloutStatus;
    const sorted = JSON.parse(JSON.stringify(sortedJSON(status))) as CanaryRolloutStatus;
    expect(JSON.stringify(sorted)).not.toEqual(JSON.stringify(status));
    expect(sameStatus(status, sorted)).toBe(true);
    expect(sameStatus(status, { ...sorted, currentWave: 2 })).toBe(false);
  });
});

describe('requestVerb (request metrics by verb)', () => {
  it.each([
    ['GET', 'https://h:6443/apis/core.gardener.cloud/v1beta1/shoots?limit=500', 'list', 'shoots'],
    ['GET', 'https://h:6443/apis/core.gardener.cloud/v1beta1/namespaces/garden-p/shoots', 'list', 'shoots'],
    ['GET', 'https://h:6443/apis/seedmanagement.gardener.cloud/v1alpha1/namespaces/garden/gardenlets/canary-rollout-freshness-probe', 'get', 'gardenlets'],
    ['PUT', 'https://h:6443/apis/canary.gardener.cloud/v1alpha1/canaryrollouts/r1/status', 'update', 'canaryrollouts/status'],
    ['PATCH', 'https://h:6443/apis/core.gardener.cloud/v1beta1/seeds/s1', 'patch', 'seeds'],
    ['POST', 'https://h:6443/api/v1/namespaces/garden/events', 'create', 'events'],
    ['GET', 'https://h:6443/api/v1/namespaces/garden', 'get', 'namespaces'],
    ['PUT', 'https://h:6443/apis/coordination.k8s.io/v1/namespaces/garden/leases/l', 'update', 'leases'],
  ])('%s %s is %s %s', (method, url, verb, resource) => expect(requestVerb(method, url)).toEqual({ verb, resource }));
});
