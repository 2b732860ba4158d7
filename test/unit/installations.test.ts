// gardener-controller-manager's installation planning as the simulator plays it, on plain data.
import { describe, expect, it } from '@jest/globals';
import type { ControllerDeployment, ControllerInstallation, ControllerRegistration, Seed } from '../../src/gardener/api.js';
import {
  deploymentHash,
  isHandledRegistration,
  LABEL_DEPLOYMENT_HASH,
  planInstallations,
  wantedInstallations,
  type ExtensionShoot,
  type WantedInstallation,
} from '../../src/sim/installations.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape.js';

const seed = (name: string, provider = 'aws', labels: Record<string, string> = {}, deleting = false): Seed => ({
  metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { provider: { type: provider, region: 'eu-1' } },
});

const shoot = (name: string, seedName: string, extra: { extensions?: string[]; network?: string; image?: string; provider?: string } = {}): ExtensionShoot => ({
  metadata: { name, namespace: 'garden-p' },
  spec: {
    seedName,
    provider: { type: extra.provider ?? 'aws', workers: [{ machine: { image: { name: extra.image ?? 'gardenlinux' } } }] },
    networking: { type: extra.network ?? 'calico' },
    ...(extra.extensions ? { extensions: extra.extensions.map((type) => ({ type })) } : {}),
  },
});

const deployment = (name: string, version: string, rv: string): ControllerDeployment => ({
  metadata: { name, resourceVersion: rv },
  helm: { ociRepository: { ref: `example.com/${name}:${version}` } },
});

type Policy = 'Always' | 'OnDemand' | 'AlwaysExceptNoShoots' | undefined;
const registration = (
  name: string,
  resources: { kind: string; type: string }[],
  policy: Policy,
  opts: { deployment?: string | null; seedSelector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } } = {},
): ControllerRegistration => ({
  metadata: { name },
  spec: {
    resources,
    deployment: {
      ...(policy ? { policy } : {}),
      ...(opts.deployment === null ? {} : { deploymentRefs: [{ name: opts.deployment ?? name }] }),
      ...(opts.seedSelector ? { seedSelector: opts.seedSelector } : {}),
    },
  },
});

const pairs = (w: WantedInstallation[]) => w.map((x) => `${x.registration}@${x.seed}`).sort();

describe('isHandledRegistration', () => {
  it('takes the named registrations and their -canary registrations only', () => {
    const handled = ['ext-a'];
    expect(isHandledRegistration('ext-a', handled)).toBe(true);
    expect(isHandledRegistration('ext-a-canary', handled)).toBe(true);
    expect(isHandledRegistration('ext-a-canary-x1', handled)).toBe(true);
    expect(isHandledRegistration('ext-ab', handled)).toBe(false);
    expect(isHandledRegistration('ext-a-other', handled)).toBe(false);
  });
});

describe('wantedInstallations', () => {
  const seeds = [seed('s1', 'aws', { zone: 'a' }), seed('s2', 'gcp'), seed('s3', 'aws'), seed('gone', 'aws', {}, true)];
  const shoots = [shoot('a', 's1', { extensions: ['cert'] }), shoot('b', 's1'), shoot('c', 's2', { provider: 'gcp', network: 'cilium', image: 'suse' })];

  it('Always: every seed that is not being deleted', () => {
    const w = wantedInstallations(seeds, shoots, [registration('x', [{ kind: 'Extension', type: 'x' }], 'Always')], [deployment('x', 'v1', '7')]);
    expect(pairs(w)).toEqual(['x@s1', 'x@s2', 'x@s3']);
    expect(w[0]).toMatchObject({ deployment: 'x', resourceVersion: '7', labels: { [LABEL_DEPLOYMENT_HASH]: deploymentHash(deployment('x', 'v1', '7')) } });
  });

  it('AlwaysExceptNoShoots: seeds with at least one shoot', () => {
    const w = wantedInstallations(seeds, shoots, [registration('x', [{ kind: 'Extension', type: 'x' }], 'AlwaysExceptNoShoots')], [deployment('x', 'v1', '1')]);
    expect(pairs(w)).toEqual(['x@s1', 'x@s2']);
  });

  it('OnDemand (or no policy): seeds whose shoots or own provider need one of its kind/types', () => {
    const regs = [
      registration('cert', [{ kind: 'Extension', type: 'cert' }], 'OnDemand'),
      registration('cilium', [{ kind: 'Network', type: 'cilium' }], undefined),
      registration('suse', [{ kind: 'OperatingSystemConfig', type: 'suse' }], undefined),
      registration('gcp', [{ kind: 'Infrastructure', type: 'gcp' }], undefined),
      registration('dns-aws', [{ kind: 'DNSRecord', type: 'aws' }], undefined),
      registration('unused', [{ kind: 'Extension', type: 'nobody' }], 'OnDemand'),
    ];
    const w = wantedInstallations(seeds, shoots, regs, regs.map((r) => deployment(r.metadata.name, 'v1', '1')));
    expect(pairs(w)).toEqual(['cert@s1', 'cilium@s2', 'dns-aws@s1', 'dns-aws@s3', 'gcp@s2', 'suse@s2']);
  });

  it('a shoot counts for the seed in its status, then its spec', () => {
    const moved = { ...shoot('m', 's1', { extensions: ['cert'] }), status: { seedName: 's3' } };
    const w = wantedInstallations(seeds, [moved], [registration('cert', [{ kind: 'Extension', type: 'cert' }], 'OnDemand')], [deployment('cert', 'v1', '1')]);
    expect(pairs(w)).toEqual(['cert@s3']);
  });

  it('drops seeds the seedSelector does not match', () => {
    const regs = [
      registration('sel', [{ kind: 'Extension', type: 'x' }], 'Always', { seedSelector: { matchLabels: { zone: 'a' } } }),
      registration('bad-op', [{ kind: 'Extension', type: 'x' }], 'Always', { seedSelector: { matchExpressions: [{ key: 'zone', operator: 'Like' }] } }),
    ];
    const w = wantedInstallations(seeds, shoots, regs, [deployment('sel', 'v1', '1'), deployment('bad-op', 'v1', '1')]);
    expect(pairs(w)).toEqual(['sel@s1']);
  });

  it('wants nothing for a registration without a deployment reference or whose deployment is missing', () => {
    const regs = [registration('noref', [{ kind: 'Extension', type: 'x' }], 'Always', { deployment: null }), registration('missing', [{ kind: 'Extension', type: 'x' }], 'Always')];
    expect(wantedInstallations(seeds, shoots, regs, [])).toEqual([]);
  });

  it('labels with stable hashes and the landscape', () => {
    const args = [seeds, shoots, [registration('x', [{ kind: 'Extension', type: 'x' }], 'Always')], [deployment('x', 'v1', '1')]] as const;
    const w = wantedInstallations(...args, 'lp');
    expect(w).toEqual(wantedInstallations(...args, 'lp'));
    expect(w[0]!.labels).toEqual({
      'registration-spec-hash': expect.stringMatching(/^[0-9a-f]{16}$/),
      'seed-spec-hash': expect.stringMatching(/^[0-9a-f]{16}$/),
      'deployment-hash': expect.stringMatching(/^[0-9a-f]{16}$/),
      [LABEL_LANDSCAPE]: 'lp',
    });
    expect(deploymentHash(deployment('x', 'v2', '1'))).not.toBe(deploymentHash(deployment('x', 'v1', '1')));
    // the hash is over the helm value, not the order a decoder left its keys in
    expect(deploymentHash({ helm: { values: { a: 1, b: 2 }, ociRepository: { ref: 'r' } } })).toBe(deploymentHash({ helm: { ociRepository: { ref: 'r' }, values: { b: 2, a: 1 } } }));
  });
});

describe('planInstallations', () => {
  const want = (registration: string, seedName: string, rv = '5'): WantedInstallation => ({
    registration,
    seed: seedName,
    deployment: registration,
    resourceVersion: rv,
    labels: { [LABEL_DEPLOYMENT_HASH]: `h${rv}` },
  });
  const inst = (name: string, registration: string, seedName: string, rv: string, created = '2026-01-01T00:00:00Z'): ControllerInstallation => ({
    metadata: { name, creationTimestamp: created, labels: { [LABEL_DEPLOYMENT_HASH]: `h${rv}` } },
    spec: { registrationRef: { name: registration }, seedRef: { name: seedName }, deploymentRef: { name: registration, resourceVersion: rv } },
  });

  it('creates what is missing, repoints what is outdated, keeps what is current', () => {
    const plan = planInstallations([want('x', 's1'), want('x', 's2'), want('x', 's3')], [inst('x-aaaaa', 'x', 's1', '5'), inst('x-bbbbb', 'x', 's2', '4')]);
    expect(plan.create.map((w) => w.seed)).toEqual(['s3']);
    expect(plan.patch).toEqual([{ name: 'x-bbbbb', body: { metadata: { labels: { [LABEL_DEPLOYMENT_HASH]: 'h5' } }, spec: { deploymentRef: { name: 'x', resourceVersion: '5' } } } }]);
    expect(plan.delete).toEqual([]);
  });

  it('matches installations by their references, not their names', () => {
    const plan = planInstallations([want('x', 's1')], [inst('x-s2-looking', 'x', 's1', '5')]);
    expect(plan).toEqual({ create: [], patch: [], delete: [] });
  });

  it('deletes unwanted installations and all but the oldest duplicate', () => {
    const plan = planInstallations(
      [want('x', 's1')],
      [inst('x-new', 'x', 's1', '5', '2026-01-02T00:00:00Z'), inst('x-old', 'x', 's1', '5', '2026-01-01T00:00:00Z'), inst('x-s2', 'x', 's2', '5'), inst('y-s1', 'y', 's1', '5')],
    );
    expect(plan.create).toEqual([]);
    expect(plan.delete.sort()).toEqual(['x-new', 'x-s2', 'y-s1']);
  });

  it('leaves installations that are already being deleted alone', () => {
    const going = { ...inst('x-going', 'x', 's1', '5'), metadata: { ...inst('x-going', 'x', 's1', '5').metadata, deletionTimestamp: '2026-01-03T00:00:00Z' } };
    const plan = planInstallations([want('x', 's1')], [going]);
    expect(plan).toEqual({ create: [want('x', 's1')], patch: [], delete: [] });
  });
});
